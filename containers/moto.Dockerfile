# moto's S3 server for the integration tests: `docker run IMAGE [-H HOST] [-p PORT]`.
#
# Built like job.Dockerfile (same base mechanism, same lock, optional CA secret); installs only
# the lock's `s3server` dependency group, so the tests' server is exactly the locked moto.

ARG PYTHON_IMAGE=python:3.13-slim-trixie

FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.8
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON=python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/uv && /opt/uv/bin/pip install -q "uv==${UV_VERSION}"

WORKDIR /src
COPY pyproject.toml uv.lock ./
# --only-group leaves out the project and its own dependencies.
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --only-group s3server


FROM ${PYTHON_IMAGE}
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin moto
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 5000
ENTRYPOINT ["moto_server"]
CMD ["-H", "0.0.0.0", "-p", "5000"]

ARG PYTHON_IMAGE
ARG VERSION=0.0.0+unknown
LABEL org.opencontainers.image.title="daily-synthetic-moto" \
      org.opencontainers.image.description="moto S3 server (server mode) for the daily-synthetic integration tests" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
