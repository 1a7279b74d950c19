#!/usr/bin/env bash
# Print NAME=IMAGE lines for the stack's third-party images (postgres, redis, the
# S3 store), building a local stand-in for each public image that is neither
# present nor pullable:
#
#   scripts/stack-images.sh full|minimal      (minimal needs only the S3 store)
#
# Per image, the first that works:
#   1. POSTGRES_IMAGE / REDIS_IMAGE / S3STORE_IMAGE set (shell, .env): used as is;
#   2. the public image, present locally or pulled within STACK_PULL_TIMEOUT s
#      (normal networks: nothing is built);
#   3. containers/<name>.Dockerfile built on the shared Python base image
#      (scripts/ensure-base-image.sh) and tagged daily-synthetic/<name>:local.
# STACK_IMAGES=local skips step 2, STACK_IMAGES=public fails instead of step 3.
# The build command comes from make (BUILDX: buildx with the CA secret, see mk/images.mk).
set -euo pipefail
# shellcheck source=scripts/stack-lib.sh
source "$(dirname "$0")/stack-lib.sh"

profile=${1:-full}
mode=${STACK_IMAGES:-auto}
buildx=${BUILDX:-docker buildx build --load}
base=""

resolve() { # VAR public-image dockerfile-name
  local var=$1 public=$2 name=$3 local_tag="daily-synthetic/$3:local"
  if [ -n "${!var:-}" ]; then
    echo "$var=${!var}"
    return
  fi
  if [ "$mode" != local ]; then
    if present_or_pulled "$public" "${STACK_PULL_TIMEOUT:-30}"; then
      log "$var: $public"
      echo "$var=$public"
      return
    fi
    [ "$mode" != public ] || die "$public can be neither found nor pulled (STACK_IMAGES=public)"
  fi
  # Always through the builder: its cache makes an unchanged stand-in a no-op.
  [ -n "$base" ] || base=${BASE_IMAGE:-$(bash scripts/ensure-base-image.sh "${PYTHON_IMAGE:-python:3.13-slim-trixie}")}
  log "$var: $public unavailable, building $local_tag from containers/$name.Dockerfile on $base"
  # shellcheck disable=SC2086 # BUILDX is a command line
  $buildx -q -f "containers/$name.Dockerfile" -t "$local_tag" --build-arg PYTHON_IMAGE="$base" . >/dev/null
  echo "$var=$local_tag"
}

resolve S3STORE_IMAGE rclone/rclone:1.75 s3store
if [ "$profile" = full ]; then
  resolve POSTGRES_IMAGE postgres:17 postgres
  resolve REDIS_IMAGE redis:7.2-bookworm redis
fi
