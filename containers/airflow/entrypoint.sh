#!/bin/sh
# Entrypoint of the Airflow image: give the simple auth manager a fixed login from
# the environment (it would otherwise generate a password and print it to the
# log), then run the command.
set -eu
if [ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]; then
  pwfile="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-${AIRFLOW_HOME}/simple_auth_manager_passwords.json.generated}"
  umask 077
  python3 -c 'import json, os, sys
json.dump({os.environ.get("AIRFLOW_ADMIN_USER", "admin"): os.environ["AIRFLOW_ADMIN_PASSWORD"]}, open(sys.argv[1], "w"))' "$pwfile"
fi
exec "$@"
