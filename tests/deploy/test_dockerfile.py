"""The Dockerfile and .dockerignore: read by BuildKit's parser, linted by hadolint, and the images'
commands proven to serve, from a venv the builder stage's own instructions install, without Docker."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import psycopg
import pytest

from devtools.postgres import create_database, drop_database
from tests.deploy.dockerfile_model import Dockerfile
from tests.deploy.dockerignore import context_files, excluded, read_rules
from tests.deploy.image_build import built_image
from tests.deploy.image_run import container_env, run_target
from tests.deploy.tools import DOCKERFILE, hadolint, resolved_compose
from tests.support.gateway_fixtures import GATEWAY_AUDIENCE, TASK_AUDIENCE, user_token
from tests.support.processes import ROOT, free_port
from tests.support.tokens import ISSUER, JwksServer

# Each image target: the module it runs, its settings' prefix and its default port.
SERVICES = [
    ("task-server", "mcp_task_server", "TASK_SERVER", "8001"),
    ("gateway", "chat_gateway", "GATEWAY", "8000"),
]
TARGETS = [service[0] for service in SERVICES]
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL", re.IGNORECASE)
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def test_multi_stage_with_one_target_per_service(dockerfile: Dockerfile) -> None:
    names = [stage.name for stage in dockerfile.stages]
    assert names == ["builder", "runtime", "task-server", "gateway"]
    for target in TARGETS:
        chain = [stage.name for stage in dockerfile.chain(target)]
        assert chain == ["runtime", target], "a service image must not start from the builder"
    # The runtime takes exactly one thing from the builder: the virtual environment.
    builder_venv = dockerfile.env("builder", {"PATH": ""})["VIRTUAL_ENV"]
    copies = [copy for copy in dockerfile.stage("runtime").all("COPY") if copy.flags]
    assert [(copy.flags, copy.value) for copy in copies] == [
        (("--from=builder",), (builder_venv, builder_venv))
    ]


@pytest.mark.parametrize(("target", "module", "prefix", "port"), SERVICES)
def test_service_target_runs_its_module_as_a_fixed_non_root_user(
    dockerfile: Dockerfile, target: str, module: str, prefix: str, port: str
) -> None:
    assert dockerfile.command(target) == ["python", "-m", module]
    user = dockerfile.user(target)
    assert user is not None
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"numeric non-root UID:GID, got {user}"

    healthcheck = dockerfile.healthcheck(target)
    # Slim images have no curl or wget: the probe is the image's own Python, in exec form (no shell).
    assert healthcheck is not None
    assert healthcheck[:2] == ["python", "-c"]

    exposed = dockerfile.last(target, "EXPOSE")
    assert exposed is not None
    assert exposed.value == (port,)
    env = dockerfile.env(target, {"PATH": "/usr/bin"})
    # Inside its own network namespace a container must listen on every interface to be reachable.
    assert env[f"{prefix}_HOST"] == "0.0.0.0"  # noqa: S104
    assert env["PYTHONDONTWRITEBYTECODE"] == env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith(env["VIRTUAL_ENV"] + "/bin:")


@pytest.mark.parametrize(("target", "prefix"), [(target, prefix) for target, _, prefix, _ in SERVICES])
def test_healthcheck_reports_unhealthy_when_nothing_answers(
    dockerfile: Dockerfile, target: str, prefix: str
) -> None:
    probe = dockerfile.healthcheck(target)
    assert probe is not None
    # Docker reads exit status 1 as unhealthy and reserves 2, so a refused connection must give 1.
    env = {"PATH": str(Path(sys.executable).parent), f"{prefix}_PORT": str(free_port())}
    result = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1, result.stderr
    assert "ConnectionRefusedError" in result.stderr


def test_runtime_stage_installs_and_builds_nothing(dockerfile: Dockerfile) -> None:
    assert "slim" in dockerfile.base_image("runtime")
    for target in TARGETS:
        for instruction in dockerfile.instructions(target):
            if instruction.cmd == "RUN":
                command = " ".join(instruction.value)
                assert not re.search(r"\b(pip|apt-get|apt|apk)\b.*\binstall\b", command), command


def test_base_images_are_tagged_and_never_latest(dockerfile: Dockerfile) -> None:
    names = {stage.name for stage in dockerfile.stages}
    external = [
        dockerfile.base_image(str(stage.name)) for stage in dockerfile.stages if stage.base not in names
    ]
    assert external
    for image in external:
        tag = image.rsplit("/", 1)[-1].partition("@")[0].partition(":")[2]
        assert tag, f"{image}: tag the base image"
        assert tag != "latest", image
        assert re.match(r"\d+\.\d+", tag), f"{image}: name the Python version in the tag"


def test_python_version_matches_the_lock(dockerfile: Dockerfile) -> None:
    header = (ROOT / "requirements.lock").read_text().split("\n", 3)[1]
    locked = re.search(r"--python-version (\S+)", header)
    assert locked is not None, header
    tag = dockerfile.base_image("builder").partition(":")[2]
    assert tag.startswith(locked.group(1) + "-"), (
        f"the image's Python ({tag}) is not the lock's ({locked.group(1)})"
    )
    # The venv's python is a link to the base image's interpreter, so both stages need the same one.
    assert dockerfile.base_image("builder") == dockerfile.base_image("runtime")


def test_no_secret_in_env_or_arg(dockerfile: Dockerfile) -> None:
    settings = [(name, value) for name, value in dockerfile.global_args.items()]
    for stage in dockerfile.stages:
        for instruction in stage.all("ENV"):
            settings += zip(instruction.value[::2], instruction.value[1::2], strict=True)
        for instruction in stage.all("ARG"):
            name, _, value = instruction.value[0].partition("=")
            settings.append((name, value))
    assert settings
    for name, value in settings:
        # Build arguments and ENV end up in the image's history for anyone who pulls it.
        assert not SECRET_NAME.search(name), name
        assert not CREDENTIALS_IN_URL.search(value), name


def test_hadolint_passes(tmp_path: Path) -> None:
    # A scratch HOME keeps a developer's ~/.config/hadolint.yaml from relaxing the rules.
    result = subprocess.run(
        [str(hadolint()), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_dockerignore_sends_only_what_the_image_needs(dockerfile: Dockerfile) -> None:
    context = context_files(ROOT)
    tops = {path.split("/")[0] for path in context}
    assert tops == {
        "pyproject.toml",
        "requirements.lock",
        "README.md",
        "shared",
        "mcp_task_server",
        "chat_gateway",
    }
    assert not [path for path in context if "__pycache__" in path or path.endswith(".pyc")]
    # Checked by pattern as well, so the rules hold for files this checkout happens not to have.
    rules = read_rules(ROOT / ".dockerignore")
    for secret_or_bulk in (
        ".env",
        ".env.production",
        ".data/local-auth/key.pem",
        ".venv/bin/python",
        "node_modules/x/index.js",
        ".git/config",
        ".pytest_cache/v/x",
        ".mypy_cache/x",
        ".ruff_cache/x",
        "tests/conftest.py",
        "shared/__pycache__/auth.cpython-311.pyc",
    ):
        assert excluded(secret_or_bulk, rules), secret_or_bulk
    # Everything the builder copies is in the context.
    for copy in dockerfile.stage("builder").all("COPY"):
        for source in copy.value[:-1]:
            source = source.rstrip("/")
            assert source in context or any(path.startswith(source + "/") for path in context), source


# The first run installs the image's venv from scratch (~30 s); later runs reuse it and take ~10 s.
@pytest.mark.timeout(300)
def test_image_commands_serve_with_the_compose_environment(
    dockerfile: Dockerfile,
    admin_url: str,
    stack_jwks: JwksServer,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    cache = getattr(pytestconfig, "cache", None)
    cache_root = cache.mkdir("deploy-image") if cache is not None else tmp_path / "image-cache"
    # Compose resolves the environment with the test's JWKS and one audience per service, as an
    # operator's env file would set them.
    compose = resolved_compose(
        {
            "POSTGRES_PASSWORD": "not-used-outside-compose",
            "AUTH_JWKS_URL": stack_jwks.url,
            "AUTH_ISSUER": ISSUER,
            "TASK_SERVER_AUTH_AUDIENCE": TASK_AUDIENCE,
            "GATEWAY_AUTH_AUDIENCE": GATEWAY_AUDIENCE,
        },
        tmp_path,
    )["services"]
    home, workdir = tmp_path / "home", tmp_path / "workdir"
    home.mkdir()
    workdir.mkdir()
    database = f"test_deploy_{uuid.uuid4().hex[:12]}"
    database_url = create_database(admin_url, database)
    task_port, gateway_port = free_port(), free_port()
    # Service names become loopback addresses, fixed ports free ones and the database the test's own;
    # every other variable is the one compose resolved.
    task_overrides = {
        "DATABASE_URL": database_url,
        "TASK_SERVER_HOST": "127.0.0.1",
        "TASK_SERVER_PORT": str(task_port),
    }
    compose_task_url = urlsplit(compose["chat_gateway"]["environment"]["MCP_TASK_SERVER_URL"])
    gateway_overrides = {
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(gateway_port),
        "MCP_TASK_SERVER_URL": compose_task_url._replace(netloc=f"127.0.0.1:{task_port}").geturl(),
    }
    try:
        with ExitStack() as stack:
            image = stack.enter_context(built_image(dockerfile, cache_root))
            task_env = container_env(
                dockerfile, "task-server", image.venv, compose["mcp_task_server"], task_overrides, home
            )
            tasks = stack.enter_context(
                run_target(dockerfile, "task-server", task_env, workdir, tmp_path / "task-server.log")
            )
            gateway_env = container_env(
                dockerfile, "gateway", image.venv, compose["chat_gateway"], gateway_overrides, home
            )
            gateway = stack.enter_context(
                run_target(dockerfile, "gateway", gateway_env, workdir, tmp_path / "gateway.log")
            )

            # The task server migrated the empty database at start-up, from the installed package.
            with psycopg.connect(database_url) as conn:
                assert conn.execute("SELECT to_regclass('tasks')").fetchone() == ("tasks",)
            with httpx2.Client(timeout=30) as http:
                # The gateway's Host header inside compose is accepted, and a stranger's is not.
                probe = f"http://127.0.0.1:{task_port}/readyz"
                assert http.get(probe, headers={"Host": compose_task_url.netloc}).status_code == 200
                assert http.get(probe, headers={"Host": "attacker.example:8001"}).status_code == 421
                # One chat turn crosses both services with the audiences compose gave each of them.
                reply = http.post(
                    f"http://127.0.0.1:{gateway_port}/api/user-1/chat",
                    headers={"Authorization": f"Bearer {user_token('user-1')}"},
                    json={"message": "add buy milk"},
                )
            assert reply.status_code == 200, reply.text
            assert [(call["name"], call["is_error"]) for call in reply.json()["tool_calls"]] == [
                ("add_task", False)
            ]
        # `docker stop` sends SIGTERM: both finish their shutdown, then uvicorn re-raises the signal.
        for service in (tasks, gateway):
            assert service.process.returncode in (0, -signal.SIGTERM), service.log()
            assert "Application shutdown complete" in service.log()
            assert "Traceback" not in service.log()
        # Nothing was written to the working folder or HOME, which the image keeps read-only and absent.
        assert list(workdir.iterdir()) == []
        assert list(home.iterdir()) == []
    finally:
        drop_database(admin_url, database)
