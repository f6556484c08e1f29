# syntax=docker/dockerfile:1
#
# One build, two images: `--target task-server` (python -m mcp_task_server) and `--target gateway`
# (python -m chat_gateway). Both share the dependency layer, so building the second costs nothing.
# docker-compose.yml picks the targets; by hand:
#   docker build --target task-server -t todo-chat/mcp-task-server .
#   docker build --target gateway -t todo-chat/chat-gateway .
#
# The base is a moving minor tag so security rebuilds pick up patch releases; pin a digest for
# reproducible builds with --build-arg PYTHON_IMAGE=python:3.11-slim-trixie@sha256:<digest>.
# Python 3.11 is the version requirements.lock is compiled for (tests/deploy checks that they agree).
ARG PYTHON_IMAGE=python:3.11-slim-trixie

# ---- builder: resolve and install everything into a virtual environment --------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv
ENV PATH="${VIRTUAL_ENV}/bin:${PATH}"

WORKDIR /src
RUN python -m venv "$VIRTUAL_ENV"

# The runtime set is the project's own dependencies (pyproject's [project.dependencies], never the dev
# extra) at exactly the versions requirements.lock pins: the lock constrains every package pip picks.
# Binary wheels only, so the builder needs no compiler and a missing wheel fails the build loudly.
# This layer depends on the two files alone, so editing the code does not reinstall dependencies.
COPY pyproject.toml requirements.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > runtime-requirements.in \
    && pip install --only-binary=:all: --constraint requirements.lock --requirement runtime-requirements.in

# The application itself, as a regular (non-editable) install: the image then needs no source tree.
COPY README.md ./
COPY shared/ shared/
COPY mcp_task_server/ mcp_task_server/
COPY chat_gateway/ chat_gateway/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps .

# ---- runtime: the interpreter and the virtual environment, nothing to build with ---------------------
FROM ${PYTHON_IMAGE} AS runtime

# A fixed, numeric, unprivileged UID/GID, so volume permissions are predictable and orchestrators can
# verify runAsNonRoot without resolving names. The user owns nothing: the code is read-only to it.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv
ENV PATH="${VIRTUAL_ENV}/bin:${PATH}"

# An empty working directory: no .env is read from it and nothing is written to it.
WORKDIR /app
USER 10001:10001

# ---- the MCP task server ----------------------------------------------------------------------------
FROM runtime AS task-server

# Listen on every interface inside the container. The services refuse this without an identity
# provider (AUTH_JWKS_URL), which is what keeps the local development key off the network.
ENV TASK_SERVER_HOST=0.0.0.0
EXPOSE 8001

# Healthy means ready: the database answers (and so migrations are done). Compose starts the gateway
# only then. http.client, unlike urllib, ignores HTTP_PROXY variables a Docker client may inject.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --start-interval=1s --retries=3 \
    CMD ["python", "-c", "import http.client, os; c = http.client.HTTPConnection('127.0.0.1', int(os.environ.get('TASK_SERVER_PORT', '8001')), timeout=4); c.request('GET', '/readyz'); raise SystemExit(c.getresponse().status != 200)"]

# The entrypoint takes the subcommand as arguments: `docker compose run --rm mcp_task_server migrate`.
ENTRYPOINT ["python", "-m", "mcp_task_server"]

# ---- the chat gateway -------------------------------------------------------------------------------
FROM runtime AS gateway

ENV GATEWAY_HOST=0.0.0.0
EXPOSE 8000

# Ready means the task server and the identity provider's keys answer; a load balancer that follows
# Docker's health status then sends no traffic to a gateway that could only answer 503.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["python", "-c", "import http.client, os; c = http.client.HTTPConnection('127.0.0.1', int(os.environ.get('GATEWAY_PORT', '8000')), timeout=4); c.request('GET', '/readyz'); raise SystemExit(c.getresponse().status != 200)"]

ENTRYPOINT ["python", "-m", "chat_gateway"]
