#!/usr/bin/env bash
# Print the name of a usable Python base image for `docker build --build-arg PYTHON_IMAGE=...`.
#
#   scripts/ensure-base-image.sh [PYTHON_IMAGE]      (default: python:3.13-slim-trixie)
#
# 1. The requested public image, when it is already present locally or can be pulled within
#    BASE_PULL_TIMEOUT seconds (normal networks: nothing else happens).
# 2. Otherwise a local stand-in built once from Debian packages with debootstrap (no registry
#    needed) and cached as LOCAL_BASE_IMAGE.
#
# Only the image name goes to stdout; progress goes to stderr. Generic on purpose: every
# Dockerfile of the project (job, moto, Airflow) gets its base the same way.
#
# Environment:
#   LOCAL_BASE_IMAGE     name of the local stand-in (default: daily-synthetic/python-base:<X.Y>-<suite>)
#   BASE_SUITE           Debian suite to bootstrap (default: the suite named in the tag, else trixie)
#   BASE_EXTRA_PACKAGES  more Debian packages for the stand-in, comma-separated (give it its own
#                        LOCAL_BASE_IMAGE name: the cache is keyed by name only)
#   BASE_PULL            0 = never try to pull the public image (default 1)
#   BASE_PULL_TIMEOUT    seconds allowed for that pull (default 30)
#   BASE_REBUILD         1 = rebuild the stand-in even when it exists
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

requested=${1:-${PYTHON_IMAGE:-python:3.13-slim-trixie}}
tag=${requested##*:}
[ "$tag" != "$requested" ] || tag=latest

# What the requested tag promises: a Python X.Y and (often) a Debian suite, e.g. 3.13-slim-trixie.
want_py=$(grep -oE '^[0-9]+\.[0-9]+' <<<"$tag" || true)
suite=${BASE_SUITE:-}
if [ -z "$suite" ]; then
  case "$tag" in
    *-trixie) suite=trixie ;;
    *-bookworm) suite=bookworm ;;
    *) suite=trixie ;;
  esac
fi
local_image=${LOCAL_BASE_IMAGE:-daily-synthetic/python-base:${want_py:-3}-${suite}}

# 1. The public image: already here, or pullable quickly.
if have_image "$requested"; then
  log "using $requested (present locally)"
  echo "$requested"
  exit 0
fi
why="BASE_PULL=0"
if [ "${BASE_PULL:-1}" != 0 ] && [ "${BASE_REBUILD:-0}" != 1 ]; then
  if pull_within "$requested" "${BASE_PULL_TIMEOUT:-30}"; then
    log "using $requested (pulled)"
    echo "$requested"
    exit 0
  fi
  why="$requested cannot be pulled"
fi

# 2. The local stand-in. A lock keeps parallel builds (job, moto, Airflow) from bootstrapping twice.
exec 9>"${TMPDIR:-/tmp}/daily-synthetic-base-image.lock"
flock 9
if have_image "$local_image" && [ "${BASE_REBUILD:-0}" != 1 ]; then
  log "using $local_image (cached; $why)"
  echo "$local_image"
  exit 0
fi


apt_mirror() { bash "$(dirname "${BASH_SOURCE[0]}")/apt-mirror.sh" || die "no Debian mirror to bootstrap from"; }

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  # apt's progress stays out of stdout (the image name is the only output) and out of sight.
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq debootstrap >/dev/null
fi

mirror=$(apt_mirror)
packages="python3,python3-venv,ca-certificates${BASE_EXTRA_PACKAGES:+,$BASE_EXTRA_PACKAGES}"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/base-rootfs.XXXXXX")
trap '$SUDO rm -rf "$work"' EXIT
rootfs=$work/rootfs
start=$(date +%s)
log "$why: building $local_image with debootstrap $suite from $mirror (about a minute)"
if ! $SUDO debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
  >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  die "debootstrap failed"
fi

got_py=$($SUDO chroot "$rootfs" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -n "$want_py" ] && [ "$got_py" != "$want_py" ]; then
  die "Debian $suite ships Python $got_py, but $requested asks for $want_py: choose a matching PYTHON_IMAGE or BASE_SUITE"
fi

# Trim what a container never reads, and keep later `apt-get install`s in derived images as
# slim (the same rules as Debian's official slim images). Copyright files stay.
$SUDO sh -c "
  set -e
  cd '$rootfs'
  rm -rf var/lib/apt/lists/* var/cache/apt/* var/cache/debconf/*-old var/lib/dpkg/*-old var/log/*
  find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
  find usr/share/doc -mindepth 1 -type d -empty -delete
  rm -rf usr/share/man/* usr/share/info/* usr/share/lintian usr/share/linda usr/share/locale/*
  # debootstrap copies the host's resolver and name in: a container gets its own from Docker.
  : > etc/resolv.conf
  : > etc/hostname
  rm -f etc/machine-id var/lib/dbus/machine-id
  cat > etc/dpkg/dpkg.cfg.d/docker-slim <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  cat > etc/apt/apt.conf.d/docker-slim <<'EOF'
APT::Install-Recommends \"false\";
APT::Install-Suggests \"false\";
DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true\"; };
Acquire::GzipIndexes \"true\";
EOF
"

log "importing the rootfs as $local_image"
$SUDO tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change "LABEL org.opencontainers.image.description=\"Debian $suite minbase with Python $got_py (debootstrap stand-in for $requested)\"" \
  --change "LABEL org.opencontainers.image.base.name=\"debian:$suite\"" \
  - "$local_image" >/dev/null
log "built $local_image in $(($(date +%s) - start)) s ($(docker image inspect -f '{{.Size}}' "$local_image" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$local_image"
