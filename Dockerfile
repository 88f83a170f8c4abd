# Every NEXUS mesh service image, built from the repository root, one service package per build:
#   docker build --build-arg SERVICE=gateway --build-arg MODULE=nexus_gateway.router -t nexus-mesh/gateway:dev .
# SERVICE: the folder under services/; MODULE: the entry point the image runs by default
# (`python -m MODULE`; compose services name theirs in `command`). Every image carries the runtime
# libraries and nexus_ops (`nexusctl` inside a container). BASE_IMAGE: the Python image both stages
# start from (a locally built one where no registry is reachable); the build needs no compiler, every
# locked dependency comes as a wheel.
ARG PYTHON_VERSION=3.11
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim-bookworm

# ---- build: a virtualenv with our packages and their locked dependencies ----
FROM ${BASE_IMAGE} AS build
ARG SERVICE
ARG MODULE
RUN test -n "$SERVICE" && test -n "$MODULE" \
 || { echo "build with --build-arg SERVICE=<folder under services/> --build-arg MODULE=<python module>" >&2; exit 1; }
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# With wheels in build/wheelhouse (`nexusctl images build` puts them there, pip on the host with the
# host's settings) pip reads only them: the build needs no network. The glob keeps it optional.
COPY requirements.lock build/wheelhous[e] /wheels/
# The lock's `-e` lines are our own packages (installed from source below); the rest pins everything
# else, build backends included (PIP_CONSTRAINT reaches pip's isolated build environments too).
RUN grep -v '^-e ' /wheels/requirements.lock > /src/constraints.txt && python -m venv /venv
ENV PIP_CONSTRAINT=/src/constraints.txt PIP_FIND_LINKS=/wheels
COPY libs/protocol libs/protocol
COPY libs/mesh libs/mesh
COPY libs/sim libs/sim
COPY libs/archive libs/archive
COPY libs/ops libs/ops
COPY services/${SERVICE} services/${SERVICE}
RUN if ls /wheels/*.whl >/dev/null 2>&1; then export PIP_NO_INDEX=1; fi \
 && /venv/bin/pip install ./libs/protocol ./libs/mesh ./libs/sim ./libs/archive ./libs/ops ./services/${SERVICE} \
 && /venv/bin/pip check \
 && /venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('${MODULE}') is None)" \
 || { echo "cannot install services/${SERVICE} or find its module ${MODULE}" >&2; exit 1; }

# ---- runtime: no sources, no build files, not root ----
FROM ${BASE_IMAGE} AS runtime
ARG SERVICE
ARG MODULE
LABEL org.opencontainers.image.title="nexus-mesh/${SERVICE}" org.opencontainers.image.source="services/${SERVICE}"
RUN groupadd --system --gid 10001 nexus \
 && useradd --system --uid 10001 --gid nexus --home-dir /app --no-create-home --shell /usr/sbin/nologin nexus \
 && install -d -o nexus -g nexus /var/lib/nexus  # the recorder's archive volume (SQLite by default)
COPY --from=build /venv /venv
COPY deploy/config /app/deploy/config
WORKDIR /app
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    NX_CONFIG_DIR=/app/deploy/config NX_DATA_DIR=/tmp/nexus NX_METRICS_PORT=9100 NX_LOG_JSON=true \
    SERVICE_MODULE=${MODULE}
USER 10001:10001
EXPOSE 9100
STOPSIGNAL SIGTERM
# /metrics where the service serves it (NX_METRICS_HOST, NX_METRICS_PORT), also on a shared host network
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 CMD ["python", "-m", "nexus_mesh.healthcheck"]
# exec: the service itself is PID 1 and receives SIGTERM.
CMD ["/bin/sh", "-c", "exec python -m \"$SERVICE_MODULE\""]
