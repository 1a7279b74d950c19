# Feast for the daily feed: `docker run IMAGE materialize --date D` applies feature_repo/ and
# materialises the day's card, customer and terminal features into the online store;
# `docker run IMAGE lookup --card ID` reads them back.
#
# Built like job.Dockerfile (same base mechanism, same lock, optional CA secret) with
# `make feast-image`; installs only the lock's `feast` group, so neither the job image nor the
# Airflow image ever carries Feast. The online store (SQLite) and registry live in
# /feature_repo/data: mount a volume there to keep them (production: Redis, see
# feature_repo/feature_store.production.yaml).

ARG PYTHON_IMAGE=python:3.13-slim-trixie

FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.8
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
COPY pyproject.toml uv.lock ./
# The exact versions `make dev` installs, hash-checked, nothing of the project itself.
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv export --quiet --frozen --only-group feast --no-emit-project -o /tmp/requirements.txt \
 && /opt/uv/bin/uv venv -q /opt/venv --python python3 \
 && /opt/uv/bin/uv pip install -q --python /opt/venv/bin/python \
      --require-hashes --no-deps -r /tmp/requirements.txt \
 && find /opt/venv -type d -name tests -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -c 'import boto3, deltalake, duckdb, feast'
# DuckDB's delta extension from its wheel (the lock's), installed where DuckDB looks for it
# ($HOME/.duckdb): Feast's DuckDB offline store reads the Delta tables through it, and DuckDB
# would otherwise download it on first use. The wheel's own copy (79 MB) then goes.
COPY scripts/duckdb-local-extensions.py /tmp/
RUN mkdir /opt/feast-home \
 && HOME=/opt/feast-home /opt/venv/bin/python /tmp/duckdb-local-extensions.py delta \
 && rm -r /opt/venv/lib/python3*/site-packages/duckdb_extension_delta/extensions


FROM ${PYTHON_IMAGE}
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin feast
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=10001:10001 /opt/feast-home /opt/feast-home
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/opt/feast-home
COPY feature_repo/ /feature_repo/
RUN mkdir -p /feature_repo/data && chown 10001:10001 /feature_repo/data
WORKDIR /feature_repo
USER 10001:10001
ENTRYPOINT ["python", "/feature_repo/tools/daily.py"]
CMD ["--help"]

ARG PYTHON_IMAGE
ARG VERSION=0.0.0+unknown
ARG REVISION=""
LABEL org.opencontainers.image.title="daily-synthetic-feast" \
      org.opencontainers.image.description="Feast (DuckDB offline, SQLite online) for the daily-synthetic features" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
