# Sourced by the project's shell scripts: logging, sudo when not root, image look-ups.
#   LOG_NAME  the prefix of log lines (default: the sourcing script's name)
# shellcheck shell=bash

LOG_NAME=${LOG_NAME:-$(basename "$0" .sh)}
log() { echo "$LOG_NAME: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Package installs and the debootstrap chroot need root; CI machines run as root.
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# pull_within IMAGE SECONDS: pull IMAGE quietly, giving up after SECONDS (no registry here
# must cost seconds, not the engine's minutes of retries).
pull_within() { timeout "$2" docker pull -q "$1" >/dev/null 2>&1; }

# present_or_pulled IMAGE SECONDS: true when IMAGE is here already or could be pulled in time.
present_or_pulled() { have_image "$1" || pull_within "$1" "$2"; }
