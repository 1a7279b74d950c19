# The daily-synthetic job: `docker run IMAGE --date YYYY-MM-DD --rows N [--dest s3://bucket]`.
#
# Build with `make job-image`. PYTHON_IMAGE is the public image on a normal network; where no
# registry answers, the Makefile passes the local Debian base from scripts/ensure-base-image.sh
# (python3 at /usr/bin there, /usr/local/bin in the official image: only PATH is relied on).
# An intercepting proxy's CA bundle can be handed in with `--secret id=ca,src=FILE`; it is
# mounted for the download steps only and never lands in a layer.

ARG PYTHON_IMAGE=python:3.13-slim-trixie

FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.8
# The CA secret (when given) is mounted over the system bundle, so pointing pip and uv at that
# path works with and without it.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON=python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
# uv comes from PyPI: no registry image for it is reachable everywhere. binutils (strip) comes
# from the base's own Debian mirror, for the builder only.
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/pip \
    apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils >/dev/null \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/uv && /opt/uv/bin/pip install -q "uv==${UV_VERSION}"

WORKDIR /src
# Third-party dependencies first, from the lock only: a code change does not reinstall them.
# Only [project] dependencies: no dev/airflow/s3server groups in the job image.
COPY pyproject.toml uv.lock ./
# Slimming: the Rust extensions (polars, deltalake, dataframely) ship their symbol tables,
# test suites and type stubs are never imported, nor are botocore's models of the hundreds
# of AWS services the job never calls (it calls S3, and STS/SSO for credentials). Vendored
# libraries in *.libs are left alone: auditwheel patched them, and strip can break patched
# files. pyarrow is not installed: Parquet is written by arrow-rs (arro3-io), the engine
# delta-rs is built on. The import proves the result, and that no package brought pyarrow back.
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-default-groups --no-install-project --no-editable \
    && find /opt/venv -type d -name tests -prune -exec rm -rf {} + \
    && find /opt/venv/lib -name '*.pyi' -delete \
    && cd /opt/venv/lib/python3*/site-packages/botocore/data \
    && find . -mindepth 1 -maxdepth 1 -type d ! -name s3 ! -name sts ! -name sso ! -name sso-oidc \
       -exec rm -rf {} + \
    && cd / \
    && find /opt/venv -name '*.so' -not -path '*.libs/*' -type f -print0 \
       | xargs -0 -r sh -c 'for f; do if readelf -S "$f" | grep -q "\.symtab"; then strip --strip-unneeded "$f"; fi; done' strip \
    && /opt/venv/bin/python -c 'import importlib.util, arro3.core, arro3.io, boto3, dataframely, deltalake, mimesis, numpy, polars; polars.DataFrame({"x": numpy.arange(3)}).sum(); assert importlib.util.find_spec("pyarrow") is None, "pyarrow is back in the job image"'
# Then the package itself, as a wheel: the source tree stays behind.
COPY README.md ./
COPY job ./job
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv build --wheel --out-dir /dist


FROM ${PYTHON_IMAGE} AS runtime
# A fixed numeric non-root user, so `runAsNonRoot`-style checks can verify it without /etc/passwd.
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app
# Bytecode is compiled at build time: a --read-only root cannot take .pyc files at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TMPDIR=/tmp
# Two layers: the dependencies (changes only with uv.lock) and the package (~1 MB),
# so a code change rebuilds, stores and ships only the latter.
COPY --from=builder /opt/venv /opt/venv
RUN --mount=type=bind,from=builder,source=/opt/uv,target=/opt/uv \
    --mount=type=bind,from=builder,source=/dist,target=/dist \
    /opt/uv/bin/uv pip install --quiet --python /opt/venv/bin/python --no-deps --no-cache \
        --compile-bytecode /dist/*.whl
USER 10001:10001
ENTRYPOINT ["daily-synthetic"]
CMD ["--help"]

# Last, so that a new version or commit only changes the image config, never a layer.
ARG PYTHON_IMAGE
ARG VERSION=0.0.0+unknown
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="daily-synthetic" \
      org.opencontainers.image.description="One day of synthetic card payments as Parquet, to a folder or S3" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
