#!/usr/bin/env bash
# Bring up a Docker engine with compose v2 and buildx on a bare Debian host.
# Does nothing where an engine already answers and both plugins are present.
# Build machines have no systemd and no registry, and compose v2 / buildx are
# only packaged for Debian trixie: each step below is for one of those facts.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

have_plugins() { docker compose version >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; }

if docker info >/dev/null 2>&1 && have_plugins; then
  log "engine $(docker info --format '{{.ServerVersion}}') with compose and buildx already answers"
  exit 0
fi


apt_mirror() { bash "$(dirname "${BASH_SOURCE[0]}")/apt-mirror.sh"; }

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing the Docker engine (docker.io) from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io >/dev/null
fi

if ! have_plugins; then
  if ! docker compose version >/dev/null 2>&1 || ! docker buildx version >/dev/null 2>&1; then
    # bookworm ships only compose v1; trixie's v2 and buildx need only libc6 >= 2.34.
    log "installing compose v2 and buildx from Debian trixie"
    mirror=$(apt_mirror)
    tmp=$(mktemp -d)
    src=/etc/apt/sources.list.d/zz-trixie-docker-plugins.list
    trap '$SUDO rm -f "$src"; rm -rf "$tmp"' EXIT
    echo "deb $mirror trixie main" | $SUDO tee "$src" >/dev/null
    $SUDO apt-get update -qq -o Dir::Etc::sourcelist="$src" -o Dir::Etc::sourceparts="-" -o APT::Get::List-Cleanup="0"
    (cd "$tmp" && apt-get download -qq docker-compose/trixie docker-buildx/trixie)
    $SUDO rm -f "$src"
    $SUDO apt-get update -qq
    $SUDO dpkg -i "$tmp"/*.deb >/dev/null
  fi
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  $SUDO sh -c 'setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then break; fi
    sleep 1
  done
fi

if ! docker info >/dev/null 2>&1; then
  log "ERROR: dockerd did not answer within 60 s; see /var/log/dockerd.log"
  exit 1
fi
have_plugins || { log "ERROR: docker compose / buildx still missing"; exit 1; }
log "engine $(docker info --format '{{.ServerVersion}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /'), buildx $(docker buildx version | awk '{print $2}')"
