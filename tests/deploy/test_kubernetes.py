"""deploy/kubernetes: rendered by kustomize itself, valid for the Kubernetes schemas, and consistent with
the images (Dockerfile) and the services' settings, so that what a cluster runs is what was tested here."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from pydantic import AliasChoices

from chat_gateway.settings import GatewaySettings
from mcp_task_server.__main__ import _parse_args
from mcp_task_server.settings import TaskServerSettings
from shared.serve import GRACEFUL_STOP_SECONDS
from shared.settings import CommonSettings, is_loopback_host
from tests.deploy.dockerfile_model import Dockerfile
from tests.deploy.image_build import BASE_IMAGE_ENV
from tests.deploy.kubernetes_model import (
    BASE,
    KUBERNETES_VERSIONS,
    KUSTOMIZE_ROOT,
    OVERLAYS,
    Endpoint,
    EnvValue,
    MiB,
    Object,
    allows,
    by_kind,
    container_env,
    find,
    image_reference,
    image_repository,
    namespace_of,
    pod_template,
    quantity,
    render,
    schema_errors,
    selector_matches,
)

KUSTOMIZATIONS = [BASE, *OVERLAYS]
KUSTOMIZATION_IDS = [str(path.relative_to(KUSTOMIZE_ROOT)) for path in KUSTOMIZATIONS]


@dataclass(frozen=True)
class App:
    # The image's repository name, which is also the Deployment's and the Service's name.
    name: str
    # The Dockerfile target that builds the image.
    target: str
    settings: type[CommonSettings]
    # Peak RSS under `make bench` load on a 2-core machine; the manifests' comments derive from it.
    measured_peak_mib: int
    # Settings with a default that is wrong in a cluster, each with the reason.
    required_in_cluster: dict[str, str]


TASK_SERVER = App(
    "mcp-task-server",
    "task-server",
    TaskServerSettings,
    147,
    {
        "DATABASE_URL": "python -m mcp_task_server refuses to start without it",
        "AUTH_JWKS_URL": "required when listening on a non-loopback address",
    },
)
GATEWAY = App(
    "chat-gateway",
    "gateway",
    GatewaySettings,
    177,
    {
        "AUTH_JWKS_URL": "required when listening on a non-loopback address",
        "MCP_TASK_SERVER_URL": "the default is the task server on loopback",
    },
)
APPS = {app.name: app for app in (TASK_SERVER, GATEWAY)}

# Variables a manifest may set that are not settings (none today; PYTHONUNBUFFERED and the like).
NOT_SETTINGS = {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONFAULTHANDLER", "TZ"}

# What the out-of-band Secrets hold, for loading the settings as a pod would.
SECRET_SAMPLES = {
    "DATABASE_URL": "postgresql://todo:secret@db.example.test:5432/todo?sslmode=require",
    "DATABASE_DIRECT_URL": "postgresql://todo_owner:secret@db-direct.example.test:5432/todo?sslmode=require",
    "OPENAI_API_KEY": "sk-test-not-a-key",
}

# PostgreSQL's default max_connections (100) less its 3 superuser_reserved_connections.
POSTGRES_CONNECTIONS = 97

APPLY_FIRST = "todo-chat/apply-first"


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, list[Object]]:
    scratch = tmp_path_factory.mktemp("kubectl")
    return {path: render(path, scratch) for path in KUSTOMIZATIONS}


@pytest.fixture(params=KUSTOMIZATIONS, ids=KUSTOMIZATION_IDS)
def objects(request: pytest.FixtureRequest, rendered: dict[Path, list[Object]]) -> list[Object]:
    return rendered[request.param]


@pytest.fixture(params=OVERLAYS, ids=[str(path.relative_to(KUSTOMIZE_ROOT)) for path in OVERLAYS])
def overlay(request: pytest.FixtureRequest, rendered: dict[Path, list[Object]]) -> list[Object]:
    return rendered[request.param]


# ---- helpers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppContainer:
    workload: Object
    container: Object
    app: App

    @property
    def pod(self) -> Object:
        return pod_template(self.workload)

    @property
    def is_server(self) -> bool:
        return bool(self.workload["kind"] == "Deployment")


def app_containers(objects: list[Object]) -> list[AppContainer]:
    """Every container, in Deployments and Jobs, that runs one of this project's images."""
    found = []
    for workload in objects:
        if workload["kind"] not in ("Deployment", "Job"):
            continue
        for container in pod_template(workload)["spec"]["containers"]:
            app = APPS.get(image_repository(container["image"]))
            if app is not None:
                found.append(AppContainer(workload, container, app))
    return found


def app_deployments(objects: list[Object]) -> Iterator[AppContainer]:
    servers = [found for found in app_containers(objects) if found.is_server]
    assert sorted(found.app.name for found in servers) == sorted(APPS), "one Deployment per service"
    for found in servers:
        assert found.workload["metadata"]["name"] == found.app.name
        yield found


def pod_workloads(objects: list[Object]) -> list[Object]:
    return [obj for obj in objects if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def container_port(container: Object, port: int | str) -> int:
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    return int(number)


def setting_names(settings: type[CommonSettings]) -> set[str]:
    """The environment variables a settings class reads: each field's alias, else env_prefix + its name;
    pydantic-settings matches them case-insensitively unless case_sensitive is set."""
    assert not settings.model_config.get("case_sensitive")
    prefix = settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for name, info in settings.model_fields.items():
        alias = info.validation_alias or info.alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names.add((prefix + name).upper())
    return names


def environment(found: AppContainer, objects: list[Object], dockerfile: Dockerfile) -> dict[str, EnvValue]:
    image_env = dockerfile.env(found.app.target, BASE_IMAGE_ENV)
    return container_env(found.container, namespace_of(found.workload), objects, image_env, SECRET_SAMPLES)


def load_settings(settings: type[CommonSettings], env: dict[str, str]) -> CommonSettings:
    """The settings exactly as the service reads them from this environment, and from nothing else."""
    with mock.patch.dict(os.environ, env, clear=True):
        return settings(_env_file=None)


def loaded(found: AppContainer, objects: list[Object], dockerfile: Dockerfile) -> CommonSettings:
    env = environment(found, objects, dockerfile)
    return load_settings(found.app.settings, {name: value.value for name, value in env.items()})


def service_for(objects: list[Object], found: AppContainer) -> Object:
    return find(objects, "Service", found.app.name)


# ---- rendering and schemas ---------------------------------------------------------------------------


def test_every_overlay_is_found() -> None:
    assert OVERLAYS, "deploy/kubernetes/overlays holds at least the example"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_matches_the_strict_kubernetes_schema(objects: list[Object], version: str) -> None:
    errors = {
        f"{obj['kind']}/{obj['metadata']['name']}": found
        for obj in objects
        if (found := schema_errors(obj, version))
    }
    assert errors == {}


def test_the_schema_check_catches_a_misspelt_field_and_a_wrong_type(
    rendered: dict[Path, list[Object]],
) -> None:
    deployment = copy.deepcopy(find(rendered[BASE], "Deployment", "chat-gateway"))
    container = pod_template(deployment)["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True
    [error] = schema_errors(deployment, KUBERNETES_VERSIONS[-1])
    assert "'readOnlyRootFileSystem' was unexpected" in error

    autoscaler = copy.deepcopy(find(rendered[BASE], "HorizontalPodAutoscaler", "chat-gateway"))
    autoscaler["spec"]["minReplicas"] = "2"
    [error] = schema_errors(autoscaler, KUBERNETES_VERSIONS[-1])
    assert error.startswith("spec.minReplicas: ")


def test_names_are_unique(objects: list[Object]) -> None:
    keys = [(obj["kind"], namespace_of(obj), obj["metadata"]["name"]) for obj in objects]
    assert len(keys) == len(set(keys))


# ---- workloads ---------------------------------------------------------------------------------------


def test_each_service_has_an_autoscaled_deployment_of_two_or_more(objects: list[Object]) -> None:
    for found in app_deployments(objects):
        spec = found.workload["spec"]
        # The autoscaler owns the count; a `replicas` here would be reset by every `kubectl apply`.
        assert "replicas" not in spec, f"{found.app.name}: leave replicas to the HorizontalPodAutoscaler"
        assert selector_matches(spec["selector"], found.pod["metadata"]["labels"])
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

        [hpa] = [
            hpa
            for hpa in by_kind(objects, "HorizontalPodAutoscaler")
            if hpa["spec"]["scaleTargetRef"]
            == {"apiVersion": "apps/v1", "kind": "Deployment", "name": found.app.name}
        ]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["minReplicas"] >= 2
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
        [metric] = hpa["spec"]["metrics"]
        assert metric["type"] == "Resource"
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        assert 0 < metric["resource"]["target"]["averageUtilization"] <= 100


def test_each_service_has_a_disruption_budget_for_exactly_its_pods(objects: list[Object]) -> None:
    templates = [pod_template(workload)["metadata"]["labels"] for workload in pod_workloads(objects)]
    for found in app_deployments(objects):
        own = found.pod["metadata"]["labels"]
        [pdb] = [
            pdb
            for pdb in by_kind(objects, "PodDisruptionBudget")
            if selector_matches(pdb["spec"]["selector"], own)
        ]
        assert pdb["apiVersion"] == "policy/v1"
        # Not the migration Job's pods, nor another service's.
        assert [labels for labels in templates if selector_matches(pdb["spec"]["selector"], labels)] == [own]
        # One replica at a time, and never all: with minReplicas 2 a drain keeps one serving.
        assert pdb["spec"].get("maxUnavailable") == 1 or pdb["spec"].get("minAvailable") == 1
        assert pdb["spec"].get("unhealthyPodEvictionPolicy") == "AlwaysAllow"


def test_each_service_has_a_cluster_ip_service_for_exactly_its_pods(objects: list[Object]) -> None:
    templates = [pod_template(workload)["metadata"]["labels"] for workload in pod_workloads(objects)]
    for found in app_deployments(objects):
        service = service_for(objects, found)
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
        selector = {"matchLabels": service["spec"]["selector"]}
        # The migration Job's pods share the task server's name label: the Service must not reach them.
        assert [labels for labels in templates if selector_matches(selector, labels)] == [
            found.pod["metadata"]["labels"]
        ]
        [port] = service["spec"]["ports"]
        assert container_port(found.container, port["targetPort"]) == container_port(found.container, "http")


def test_pods_are_spread_over_nodes_and_zones(objects: list[Object]) -> None:
    for found in app_deployments(objects):
        constraints = found.pod["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in constraints} == {
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        }
        for constraint in constraints:
            assert constraint["maxSkew"] == 1
            assert selector_matches(constraint["labelSelector"], found.pod["metadata"]["labels"])
            assert "pod-template-hash" in constraint.get("matchLabelKeys", [])


def test_every_pod_meets_the_restricted_pod_security_standard(
    objects: list[Object], dockerfile: Dockerfile
) -> None:
    for workload in pod_workloads(objects):
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_template(workload)["spec"]
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, name
        assert isinstance(pod_security["runAsUser"], int), name
        assert pod_security["runAsUser"] > 0, name
        assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        # Service links would set FOO_PORT=tcp://... for every Service, some of which could be settings.
        assert spec["enableServiceLinks"] is False, name
        for host_option in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(host_option), name
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        assert all(
            set(volume) & {"emptyDir", "configMap", "secret", "projected"} for volume in volumes.values()
        )
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security.get("privileged", False) is False, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            # A read-only root, with /tmp writable for libraries that want scratch space.
            [tmp] = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
            assert "emptyDir" in volumes[tmp["name"]], name
            app = APPS.get(image_repository(container["image"]))
            if app is not None:
                # The image's own user, so files the image owns read the same as in Docker.
                user = dockerfile.user(app.target)
                assert user == f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}", name


def test_every_container_has_requests_and_limits(objects: list[Object]) -> None:
    for workload in pod_workloads(objects):
        for container in pod_template(workload)["spec"]["containers"]:
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                limit = quantity(resources["limits"][resource])
                assert 0 < request <= limit, f"{workload['metadata']['name']}: {resource}"


def test_app_memory_covers_the_measured_peak(objects: list[Object]) -> None:
    for found in app_containers(objects):
        resources = found.container["resources"]
        peak = Fraction(found.app.measured_peak_mib * MiB)
        # The request: peak x 1.25 (what the scheduler reserves covers a busy pod); the limit: peak x 1.75.
        assert quantity(resources["requests"]["memory"]) >= peak * Fraction(5, 4)
        assert quantity(resources["limits"]["memory"]) >= peak * Fraction(7, 4)
        # One event loop uses one core at most: a limit below it would throttle steady load.
        assert quantity(resources["limits"]["cpu"]) >= 1


def test_probes_use_the_services_health_endpoints(objects: list[Object]) -> None:
    for found in app_deployments(objects):
        container = found.container
        expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
        for probe, path in expected.items():
            action = container[probe]["httpGet"]
            assert action["path"] == path, f"{found.app.name} {probe}"
            assert container_port(container, action["port"]) == container_port(container, "http")
            # The pod's own address is accepted as Host by the task server (its socket's address), so
            # neither a host nor a Host header is needed.
            assert "host" not in action
        # Liveness waits for start-up, and never restarts a pod for a slow dependency.
        assert (
            container["livenessProbe"]["failureThreshold"] * container["livenessProbe"]["periodSeconds"] >= 30
        )
        assert "lifecycle" not in container, "the app drains on SIGTERM itself; a preStop would only delay it"


def test_the_migration_job_runs_migrate_from_the_task_server_image(
    objects: list[Object], dockerfile: Dockerfile
) -> None:
    [job] = by_kind(objects, "Job")
    [found] = [found for found in app_containers(objects) if found.workload is job]
    assert found.app is TASK_SERVER
    assert "command" not in found.container
    argv = dockerfile.command(TASK_SERVER.target) + found.container["args"]
    assert argv == ["python", "-m", "mcp_task_server", "migrate"]
    assert _parse_args(argv[3:]).command == "migrate"
    spec = job["spec"]
    assert pod_template(job)["spec"]["restartPolicy"] == "Never"
    assert 0 < spec["backoffLimit"] <= 5
    assert spec["activeDeadlineSeconds"] > 0
    env = found.container["env"]
    [direct] = [entry for entry in env if entry["name"] == "DATABASE_DIRECT_URL"]
    assert direct["valueFrom"]["secretKeyRef"]["optional"] is True
    # The serving pods never get the direct URL (it may carry a role allowed to change the schema).
    for server in app_deployments(objects):
        assert "DATABASE_DIRECT_URL" not in {entry["name"] for entry in server.container.get("env", [])}


def test_the_first_rollout_step_applies_the_job_with_everything_it_needs(objects: list[Object]) -> None:
    # README, rollout: `kubectl apply -l todo-chat/apply-first=true` then wait for the Job, then the rest.
    [job] = by_kind(objects, "Job")
    first = {
        (obj["kind"], obj["metadata"]["name"])
        for obj in objects
        if obj["metadata"].get("labels", {}).get(APPLY_FIRST) == "true"
    }
    assert ("Job", job["metadata"]["name"]) in first
    for source in pod_template(job)["spec"]["containers"][0]["envFrom"]:
        assert ("ConfigMap", source["configMapRef"]["name"]) in first
    for namespace in by_kind(objects, "Namespace"):
        assert ("Namespace", namespace["metadata"]["name"]) in first
    # Nothing that serves traffic is applied early.
    assert {kind for kind, _ in first} <= {"Namespace", "ConfigMap", "Job"}


# ---- configuration -----------------------------------------------------------------------------------


def test_every_variable_a_manifest_sets_is_a_setting(objects: list[Object], dockerfile: Dockerfile) -> None:
    for found in app_containers(objects):
        allowed = setting_names(found.app.settings) | NOT_SETTINGS
        env = environment(found, objects, dockerfile)
        unknown = {
            name: value.origin
            for name, value in env.items()
            if value.origin != "image" and name not in allowed
        }
        assert unknown == {}, (
            f"{found.workload['metadata']['name']}: not settings of {found.app.settings.__name__}"
        )


def test_every_required_setting_is_set(overlay: list[Object], dockerfile: Dockerfile) -> None:
    for found in app_containers(overlay):
        app = found.app
        required = {name.upper() for name, info in app.settings.model_fields.items() if info.is_required()}
        required |= set(app.required_in_cluster)
        env = environment(found, overlay, dockerfile)
        name = found.workload["metadata"]["name"]
        missing = sorted(key for key in required if key not in env or env[key].optional or not env[key].value)
        assert missing == [], f"{name}: " + "; ".join(
            f"{key}: {app.required_in_cluster.get(key, 'no default')}" for key in missing
        )
        # The service reads them as valid, with and without the optional ones (an optional Secret key).
        load_settings(app.settings, {key: value.value for key, value in env.items() if not value.optional})
        settings = load_settings(app.settings, {key: value.value for key, value in env.items()})
        assert not is_loopback_host(settings.bind_host), f"{name}: unreachable from other pods"


def test_settings_agree_with_the_manifests(overlay: list[Object], dockerfile: Dockerfile) -> None:
    for found in app_deployments(overlay):
        settings = loaded(found, overlay, dockerfile)
        port = container_port(found.container, "http")
        if isinstance(settings, TaskServerSettings):
            assert settings.task_server_port == port
            assert settings.migrate_on_start is False, "the migration Job migrates, before the rollout"
        elif isinstance(settings, GatewaySettings):
            assert settings.gateway_port == port
        # Stopping: readiness notices the drain within it, and the grace period covers the drain plus the
        # time running requests get after it.
        drain = settings.shutdown_drain_seconds
        readiness = found.container["readinessProbe"]
        assert readiness["periodSeconds"] * readiness["failureThreshold"] <= drain - 2
        grace = found.pod["spec"]["terminationGracePeriodSeconds"]
        assert drain + GRACEFUL_STOP_SECONDS + 1 <= grace <= drain + GRACEFUL_STOP_SECONDS + 15


def test_the_gateway_reaches_the_task_server_through_its_service(
    overlay: list[Object], dockerfile: Dockerfile
) -> None:
    deployments = {found.app.name: found for found in app_deployments(overlay)}
    gateway = loaded(deployments[GATEWAY.name], overlay, dockerfile)
    assert isinstance(gateway, GatewaySettings)
    url = urlsplit(gateway.mcp_task_server_url)
    service = service_for(overlay, deployments[TASK_SERVER.name])
    [port] = service["spec"]["ports"]
    assert (url.scheme, url.hostname, url.port, url.path) == (
        "http",
        service["metadata"]["name"],
        port["port"],
        "/mcp",
    )


def test_the_gateway_replicas_share_one_rate_limit(overlay: list[Object], dockerfile: Dockerfile) -> None:
    [found] = [found for found in app_deployments(overlay) if found.app is GATEWAY]
    settings = loaded(found, overlay, dockerfile)
    assert isinstance(settings, GatewaySettings)
    assert settings.rate_limit_storage_url, "with several replicas, each would count on its own"
    url = urlsplit(settings.rate_limit_storage_url)
    assert url.scheme in ("redis", "rediss")
    in_cluster = [
        service for service in by_kind(overlay, "Service") if service["metadata"]["name"] == url.hostname
    ]
    if in_cluster:
        [service] = in_cluster
        [port] = [port for port in service["spec"]["ports"] if port["port"] == (url.port or 6379)]
        selector = {"matchLabels": service["spec"]["selector"]}
        [backend] = [
            w
            for w in pod_workloads(overlay)
            if selector_matches(selector, pod_template(w)["metadata"]["labels"])
        ]
        [container] = pod_template(backend)["spec"]["containers"]
        assert container_port(container, port["targetPort"]) == 6379
    else:
        assert "." in (url.hostname or ""), "neither a Service of the overlay nor an external host name"


def test_the_task_server_replicas_fit_in_postgresql(overlay: list[Object], dockerfile: Dockerfile) -> None:
    [found] = [found for found in app_deployments(overlay) if found.app is TASK_SERVER]
    settings = loaded(found, overlay, dockerfile)
    assert isinstance(settings, TaskServerSettings)
    hpa = find(overlay, "HorizontalPodAutoscaler", TASK_SERVER.name)
    surge = found.workload["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    assert isinstance(surge, int)
    # Every replica at its ceiling, a rollout's surge pods, and the migration Job's one connection.
    assert (hpa["spec"]["maxReplicas"] + surge) * settings.db_pool_size + 1 <= POSTGRES_CONNECTIONS


def test_overlay_images_are_pinned(overlay: list[Object]) -> None:
    for workload in pod_workloads(overlay):
        for container in pod_template(workload)["spec"]["containers"]:
            reference = image_reference(container["image"])
            assert reference not in (None, "latest"), container["image"]


async def _status(app: Any, path: str, host: str, server: tuple[str, int]) -> int:
    """One GET through the ASGI app, as uvicorn would pass it: `server` is the address the connection
    arrived at (uvicorn's per-connection socket name), `host` the Host header."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", host.encode())],
        "client": ("10.244.9.9", 40000),
        "server": server,
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    [start] = [message for message in sent if message["type"] == "http.response.start"]
    return int(start["status"])


async def test_the_task_server_accepts_the_hosts_it_is_reached_by(
    overlay: list[Object], dockerfile: Dockerfile
) -> None:
    from mcp_task_server.server import create_http_app

    deployments = {found.app.name: found for found in app_deployments(overlay)}
    settings = loaded(deployments[TASK_SERVER.name], overlay, dockerfile)
    gateway = loaded(deployments[GATEWAY.name], overlay, dockerfile)
    assert isinstance(settings, TaskServerSettings)
    assert isinstance(gateway, GatewaySettings)
    app = create_http_app(settings)
    pod_ip, port = "10.244.1.7", settings.task_server_port
    server = (pod_ip, port)
    # The kubelet's probes (Host: the pod's address), the gateway (Host: the Service) and MCP clients
    # through the ingress (Host: the public URL's); anything else is a DNS-rebinding attempt: 421.
    assert await _status(app, "/healthz", f"{pod_ip}:{port}", server) == 200
    assert await _status(app, "/healthz", urlsplit(gateway.mcp_task_server_url).netloc, server) == 200
    assert await _status(app, "/healthz", urlsplit(settings.public_url).netloc, server) == 200
    assert await _status(app, "/healthz", "rebound.example.test", server) == 421


# ---- network policies --------------------------------------------------------------------------------


def _pod(found: AppContainer) -> Endpoint:
    return Endpoint(labels=found.pod["metadata"]["labels"], namespace=namespace_of(found.workload))


def test_only_the_gateway_and_declared_mcp_clients_reach_the_task_server(objects: list[Object]) -> None:
    policies = by_kind(objects, "NetworkPolicy")
    deployments = {found.app.name: found for found in app_deployments(objects)}
    task_server, gateway = _pod(deployments[TASK_SERVER.name]), _pod(deployments[GATEWAY.name])
    assert any(selector_matches(p["spec"]["podSelector"], task_server.labels) for p in policies)
    namespace = task_server.namespace
    port = container_port(deployments[TASK_SERVER.name].container, "http")

    def reaches(source: Endpoint, on: int = port) -> bool:
        return allows(policies, source, task_server, on)

    assert reaches(gateway)
    assert not reaches(gateway, 5432)
    assert reaches(Endpoint(labels={"todo-chat/mcp-client": "true"}, namespace=namespace))
    assert reaches(
        Endpoint(
            labels={"app": "ingress-nginx"},
            namespace="ingress",
            namespace_labels={"todo-chat/mcp-ingress": "true"},
        )
    )
    assert not reaches(Endpoint(labels={"app": "anything"}, namespace=namespace))
    assert not reaches(Endpoint(labels={"todo-chat/mcp-client": "true"}, namespace="elsewhere"))
    assert not reaches(Endpoint(labels={"app.kubernetes.io/name": "chat-gateway"}, namespace="elsewhere"))
    assert not reaches(Endpoint(ip="203.0.113.9"))


def test_the_task_server_and_its_migrations_reach_postgresql_and_little_else(objects: list[Object]) -> None:
    policies = by_kind(objects, "NetworkPolicy")
    task_server = _pod(next(found for found in app_deployments(objects) if found.app is TASK_SERVER))
    [job] = by_kind(objects, "Job")
    migration = Endpoint(labels=pod_template(job)["metadata"]["labels"], namespace=namespace_of(job))
    dns = Endpoint(labels={"k8s-app": "kube-dns"}, namespace="kube-system")
    database = Endpoint(ip="198.51.100.20")
    for pod in (task_server, migration):
        assert allows(policies, pod, database, 5432)
        assert allows(policies, pod, Endpoint(labels={"app": "postgres"}, namespace="databases"), 5432)
        assert allows(policies, pod, dns, 53, "UDP")
        assert allows(policies, pod, dns, 53, "TCP")
        assert not allows(policies, pod, database, 25)
        assert not allows(policies, pod, Endpoint(labels={"app": "anything"}, namespace="other"), 8080)


def test_only_the_gateway_reaches_redis(overlay: list[Object]) -> None:
    policies = by_kind(overlay, "NetworkPolicy")
    gateway = _pod(next(found for found in app_deployments(overlay) if found.app is GATEWAY))
    for redis in [
        d
        for d in by_kind(overlay, "Deployment")
        if image_repository(pod_template(d)["spec"]["containers"][0]["image"]) in ("redis", "valkey")
    ]:
        pod = Endpoint(labels=pod_template(redis)["metadata"]["labels"], namespace=namespace_of(redis))
        assert allows(policies, gateway, pod, 6379)
        assert not allows(
            policies, Endpoint(labels={"app": "anything"}, namespace=gateway.namespace), pod, 6379
        )
        assert not allows(policies, pod, Endpoint(ip="203.0.113.9"), 443)


# ---- the model's own semantics -----------------------------------------------------------------------


def test_label_selectors() -> None:
    labels = {"app": "a", "tier": "web"}
    assert selector_matches({}, labels)
    assert not selector_matches(None, labels)
    assert selector_matches({"matchLabels": {"app": "a"}}, labels)
    assert not selector_matches({"matchLabels": {"app": "b"}}, labels)
    assert selector_matches(
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}, labels
    )
    assert not selector_matches(
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, labels
    )
    assert selector_matches({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, labels)


def test_quantities() -> None:
    assert quantity("250m") == Fraction(1, 4)
    assert quantity("1") == 1
    assert quantity("192Mi") == 192 * MiB
    assert quantity("1.5Gi") == 1536 * MiB
    with pytest.raises(ValueError, match="not a quantity"):
        quantity("12 Mi")


def test_network_policy_semantics() -> None:
    target = Endpoint(labels={"app": "db"}, namespace="ns")
    client = Endpoint(labels={"app": "client"}, namespace="ns")
    deny_all: Object = {
        "metadata": {"namespace": "ns"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    assert allows([], client, target, 5432)
    assert not allows([deny_all], client, target, 5432)
    allow_client: Object = {
        "metadata": {"namespace": "ns"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {"app": "client"}}}], "ports": [{"port": "pg"}]}
            ],
        },
    }
    assert allows([deny_all, allow_client], client, target, 5432, named_ports={"pg": 5432})
    assert not allows([deny_all, allow_client], client, target, 5433, named_ports={"pg": 5432})
    # A podSelector alone means the policy's own namespace.
    assert not allows(
        [deny_all, allow_client],
        Endpoint(labels={"app": "client"}, namespace="other"),
        target,
        5432,
        named_ports={"pg": 5432},
    )
    egress_none: Object = {
        "metadata": {"namespace": "ns"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"]},
    }
    assert not allows([egress_none], client, Endpoint(ip="192.0.2.1"), 443)
    assert allows([egress_none], Endpoint(labels={}, namespace="free"), Endpoint(ip="192.0.2.1"), 443)
