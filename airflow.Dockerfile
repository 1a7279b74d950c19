# Airflow image of the local stack (compose.yaml): Airflow + the docker provider,
# installed from uv.lock's `airflow` group (the versions `make dev` installs), and
# the DAGs. No job code: the job runs in its own image, launched by DockerOperator.
# AIRFLOW_LAUNCHER=ecs|kubernetes adds that launcher's provider only (uv.lock's
# launcher-ecs / launcher-kubernetes group) and makes it the DAG's default launcher.
#
# Built FROM PYTHON_IMAGE: the public Python image, or where no registry answers the
# local Debian stand-in of scripts/ensure-base-image.sh (`make base-image`), so it
# builds with no registry. Behind TLS interception pass the host CA bundle as a BuildKit secret:
#   docker buildx build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt ...
# On a normal network the secret is simply absent and the base's own bundle is used.
# The build context needs dags/, which .dockerignore drops: airflow.Dockerfile.dockerignore
# is this file's own ignore list.
ARG PYTHON_IMAGE=python:3.13-slim-trixie

FROM ${PYTHON_IMAGE} AS deps
ARG UV_VERSION=0.13.8
ARG AIRFLOW_LAUNCHER=docker
# The CA secret (when given) is mounted over the system bundle; pip and uv read that path.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/uv && /opt/uv/bin/pip install -q "uv==${UV_VERSION}"
WORKDIR /src
# Only the lock decides this layer: DAG edits never reinstall Airflow's ~300 MB.
COPY pyproject.toml uv.lock ./
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/uv \
    case "${AIRFLOW_LAUNCHER}" in \
      docker) launcher_group="" ;; \
      ecs|kubernetes) launcher_group="--only-group launcher-${AIRFLOW_LAUNCHER}" ;; \
      *) echo "AIRFLOW_LAUNCHER must be docker, ecs or kubernetes" >&2; exit 1 ;; \
    esac \
 && /opt/uv/bin/uv export --quiet --frozen --only-group airflow ${launcher_group} \
      --no-emit-project -o /tmp/requirements.txt \
 && /opt/uv/bin/uv venv -q /opt/airflow-venv --python python3 \
 && /opt/uv/bin/uv pip install -q --python /opt/airflow-venv/bin/python \
      --require-hashes --no-deps -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE}
ARG AIRFLOW_LAUNCHER=docker
# Upstream image conventions: AIRFLOW_HOME=/opt/airflow, user airflow (50000) in
# group 0 and group-writable dirs, so any AIRFLOW_UID with gid 0 can run it.
ENV AIRFLOW_HOME=/opt/airflow \
    DAILY_SYNTHETIC_LAUNCHER=${AIRFLOW_LAUNCHER} \
    PATH=/opt/airflow-venv/bin:${PATH} \
    PYTHONUNBUFFERED=1
RUN useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --shell /bin/bash airflow \
 && mkdir -p /opt/airflow/dags /opt/airflow/logs /opt/airflow/plugins /opt/airflow/db \
 && chown -R 50000:0 /opt/airflow /home/airflow \
 && chmod -R g+rwX /opt/airflow /home/airflow
COPY --from=deps /opt/airflow-venv /opt/airflow-venv
COPY containers/airflow/entrypoint.sh /usr/local/bin/airflow-entrypoint
COPY containers/airflow/healthcheck.py /usr/local/bin/airflow-healthcheck
USER 50000:0
WORKDIR /opt/airflow
ENTRYPOINT ["/usr/local/bin/airflow-entrypoint"]
CMD ["airflow", "version"]
# Last, so a DAG change rebuilds one small layer. compose mounts ./dags over it
# for development (STACK_DAGS=mount).
COPY --chown=50000:0 dags/ /opt/airflow/dags/
