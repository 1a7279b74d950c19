# Offline stand-in for the public redis image: Debian's redis-server on the shared
# base image (port 6379, redis-cli for the healthcheck). compose.yaml passes the
# command line, so both images run the same way. Behind TLS interception:
# --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt
ARG PYTHON_IMAGE=python:3.13-slim-trixie
FROM ${PYTHON_IMAGE}
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
