# Sourced by scripts/stack-*.sh: the environment of the local compose stack.
#
# Precedence, highest first: the shell, .env, .env.example (so the make targets
# work without a .env). Then the values make/compose need that no file can hold:
# the Docker socket's group, the job image tag, the third-party image names.
# shellcheck shell=bash

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$STACK_ROOT" || exit 1

LOG_NAME=stack
# shellcheck source=scripts/lib.sh
source "$STACK_ROOT/scripts/lib.sh"

# KEY=VALUE lines; a key already in the environment keeps its value.
load_env_file() {
  local line key value
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[2]}
    value=${BASH_REMATCH[3]}
    if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    [ -n "${!key+set}" ] || export "$key=$value"
  done <"$1"
}

[ ! -f .env ] || load_env_file .env
load_env_file .env.example

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-daily-synthetic}
export DAILY_SYNTHETIC_IMAGE=${DAILY_SYNTHETIC_IMAGE:-${JOB_IMAGE:-daily-synthetic-job:dev}}
export AIRFLOW_IMAGE=${AIRFLOW_IMAGE:-daily-synthetic-airflow:dev}

# The socket DockerOperator talks to, and its group: given to the task-running
# containers with group_add, so the socket keeps its 660 mode.
export DOCKER_SOCKET=${DOCKER_SOCKET:-/var/run/docker.sock}
if [ -z "${DOCKER_GID:-}" ]; then
  DOCKER_GID=$(stat -c %g "$DOCKER_SOCKET" 2>/dev/null) || die "no Docker socket at $DOCKER_SOCKET"
fi
export DOCKER_GID
