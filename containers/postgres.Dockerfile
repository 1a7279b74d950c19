# Offline stand-in for the public postgres image: Debian's PostgreSQL on the shared
# base image, with the subset of the public image's interface compose.yaml uses
# (POSTGRES_USER/PASSWORD/DB, PGDATA=/var/lib/postgresql/data, port 5432,
# pg_isready). scripts/stack-images.sh builds it only when the public image can't
# be had. Behind TLS interception: --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt
ARG PYTHON_IMAGE=python:3.13-slim-trixie
FROM ${PYTHON_IMAGE}
# No default cluster: the entrypoint makes one in the volume on first start.
RUN --mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt \
    mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/no-main.conf \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/lib/postgresql/*/bin/* /usr/local/bin/ \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 700 /var/lib/postgresql/data
COPY containers/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
CMD ["postgres"]
