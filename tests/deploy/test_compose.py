"""docker-compose.yml: valid for the Compose Specification and for Docker Compose itself, and shaped
for operations (health-ordered start-up, scalable app services, contract-only configuration)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.conftest import app_services, build_target
from tests.deploy.dockerfile_model import Dockerfile
from tests.deploy.tools import (
    COMPOSE_FILE,
    REQUIRED_VARIABLES,
    compose_schema,
    dclint,
    draft7_errors,
    resolved_compose,
    run_compose,
)

TASK_SERVER, GATEWAY, POSTGRES = "mcp_task_server", "chat_gateway", "postgres"


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """The variables a container gets: Compose drops a pass-through name that is set nowhere."""
    return {name: value for name, value in service.get("environment", {}).items() if value is not None}


def test_matches_the_official_compose_specification_schema(
    compose_source: dict[str, Any], compose_model: dict[str, Any]
) -> None:
    schema = compose_schema()
    # The Compose Specification's own schema names itself so; an older or third-party one would not.
    assert schema["$id"] == "compose_spec.json"
    assert "draft-07" in schema["$schema"]
    # The file as written, and the model Compose makes of it once interpolated.
    assert draft7_errors(schema, compose_source) == []
    assert draft7_errors(schema, compose_model) == []


def test_the_schema_check_catches_a_misspelt_key(compose_source: dict[str, Any]) -> None:
    broken = {**compose_source, "services": {**compose_source["services"]}}
    broken["services"][POSTGRES] = {**broken["services"][POSTGRES], "helthcheck": {}}
    [error] = draft7_errors(compose_schema(), broken)
    assert error.startswith("services/postgres: ")
    assert "'helthcheck'" in error


def test_docker_compose_accepts_it_without_warnings(tmp_path: Path) -> None:
    result = run_compose(["config", "--quiet"], REQUIRED_VARIABLES, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("missing", sorted(REQUIRED_VARIABLES))
def test_a_missing_required_variable_stops_compose_and_says_what_to_set(missing: str, tmp_path: Path) -> None:
    variables = {name: value for name, value in REQUIRED_VARIABLES.items() if name != missing}
    result = run_compose(["config", "--quiet"], variables, tmp_path)
    assert result.returncode != 0
    assert f"required variable {missing} is missing a value: set {missing}" in result.stderr


def test_dclint_finds_no_problem() -> None:
    # Two rules are off, each replaced by a check that can see what they cannot:
    # - services-alphabetical-order: the file lists services in start-up order (postgres first), which
    #   is how a reader follows depends_on;
    # - no-unbound-port-interfaces: the interface is inside `${VAR:-127.0.0.1:...}`, which dclint does
    #   not interpolate; test_app_services_can_be_scaled checks the resolved host_ip instead.
    result = subprocess.run(
        [
            *dclint(),
            str(COMPOSE_FILE),
            "--no-color",
            "--max-warnings",
            "0",
            "--disable-rule",
            "services-alphabetical-order",
            "no-unbound-port-interfaces",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_has_a_healthcheck(compose_model: dict[str, Any], dockerfile: Dockerfile) -> None:
    for name, service in compose_model["services"].items():
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), name
        # A healthcheck without `test` keeps the image's HEALTHCHECK command and overrides its timings.
        test = healthcheck.get("test") or (
            "build" in service and dockerfile.healthcheck(build_target(service))
        )
        assert test, f"{name}: neither the compose file nor the image says how to probe it"
        assert test != ["NONE"], name


def test_start_up_waits_for_health(compose_model: dict[str, Any]) -> None:
    services = compose_model["services"]
    assert set(services[GATEWAY]["depends_on"]) == {TASK_SERVER}
    assert set(services[TASK_SERVER]["depends_on"]) == {POSTGRES}
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert rule["condition"] == "service_healthy", f"{name} -> {dependency}"


def test_app_services_can_be_scaled(compose_model: dict[str, Any]) -> None:
    apps = app_services(compose_model)
    assert set(apps) == {TASK_SERVER, GATEWAY}
    for name, service in apps.items():
        # A fixed container name or host port would make the second replica fail to start.
        assert "container_name" not in service, name
        for port in service.get("ports", []):
            published = str(port.get("published", ""))
            first, _, last = published.partition("-")
            assert not published or (last and int(last) > int(first)), f"{name} publishes one fixed port"
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes beyond loopback by default"


def test_app_services_are_configured_through_the_contract_only(
    compose_model: dict[str, Any], contract_names: set[str], dockerfile: Dockerfile
) -> None:
    interpreter_settings = {"PATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
    for name, service in app_services(compose_model).items():
        assert "env_file" not in service, (
            f"{name}: an env_file would pass variables the contract does not name"
        )
        assert set(service["environment"]) - contract_names == set(), name
        image_settings = dockerfile.env_names(build_target(service)) - interpreter_settings
        assert image_settings - contract_names == set(), name


def test_app_images_run_as_a_non_root_user(compose_model: dict[str, Any], dockerfile: Dockerfile) -> None:
    for name, service in app_services(compose_model).items():
        user = service.get("user") or dockerfile.user(build_target(service))
        assert user is not None, f"{name} would run as root"
        uid = user.split(":")[0]
        assert uid.isdigit(), f"{name}: a numeric UID lets an orchestrator verify it is not root"
        assert int(uid) != 0, name
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name


def test_services_reach_each_other_by_service_name(compose_model: dict[str, Any]) -> None:
    services = compose_model["services"]
    gateway, tasks, postgres = (_environment(services[name]) for name in (GATEWAY, TASK_SERVER, POSTGRES))

    task_server_url = urlsplit(gateway["MCP_TASK_SERVER_URL"])
    assert (task_server_url.hostname, task_server_url.port) == (TASK_SERVER, 8001)
    # The task server refuses a Host header it was not told about, so it must list the gateway's.
    assert task_server_url.netloc in tasks["TASK_SERVER_ALLOWED_HOSTS"].split(",")

    database = urlsplit(tasks["DATABASE_URL"])
    assert (database.scheme, database.hostname, database.port) == ("postgresql", POSTGRES, 5432)
    assert (database.username, database.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    assert database.path == "/" + postgres["POSTGRES_DB"]
    assert gateway["AUTH_JWKS_URL"] == tasks["AUTH_JWKS_URL"] == REQUIRED_VARIABLES["AUTH_JWKS_URL"]

    # The gateway holds no database driver and gets no route to the database either.
    assert compose_model["networks"]["data"]["internal"] is True
    assert {name: set(services[name]["networks"]) for name in (POSTGRES, TASK_SERVER, GATEWAY)} == {
        POSTGRES: {"data"},
        TASK_SERVER: {"data", "default"},
        GATEWAY: {"default"},
    }


def test_postgres_is_the_official_image_on_a_named_volume(compose_model: dict[str, Any]) -> None:
    postgres = compose_model["services"][POSTGRES]
    image, _, tag = postgres["image"].partition(":")
    assert image == "postgres"
    # A pinned major version: moving to the next one needs a dump and restore, never a surprise pull.
    assert re.match(r"\d+", tag), postgres["image"]
    [volume] = postgres["volumes"]
    assert (volume["type"], volume["target"]) == ("volume", "/var/lib/postgresql/data")
    assert volume["source"] in compose_model["volumes"]
    kind, command = postgres["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    assert command.startswith("pg_isready ")


def test_each_service_can_be_given_its_own_audience_and_extra_hosts(tmp_path: Path) -> None:
    shared = resolved_compose({**REQUIRED_VARIABLES, "AUTH_AUDIENCE": "https://app.example.com"}, tmp_path)
    each = resolved_compose(
        {
            **REQUIRED_VARIABLES,
            "AUTH_AUDIENCE": "https://app.example.com",
            "TASK_SERVER_AUTH_AUDIENCE": "https://tasks.example.com",
            "GATEWAY_AUTH_AUDIENCE": "https://chat.example.com",
            "TASK_SERVER_ALLOWED_HOSTS": "tasks.example.com,tasks.internal:8001",
        },
        tmp_path,
    )
    audiences = {
        model_name: {
            name: _environment(model["services"][name])["AUTH_AUDIENCE"] for name in (TASK_SERVER, GATEWAY)
        }
        for model_name, model in (("shared", shared), ("each", each))
    }
    assert audiences["shared"] == {TASK_SERVER: "https://app.example.com", GATEWAY: "https://app.example.com"}
    assert audiences["each"] == {
        TASK_SERVER: "https://tasks.example.com",
        GATEWAY: "https://chat.example.com",
    }
    allowed = _environment(each["services"][TASK_SERVER])["TASK_SERVER_ALLOWED_HOSTS"]
    assert allowed == "mcp_task_server:8001,tasks.example.com,tasks.internal:8001"
