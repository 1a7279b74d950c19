#!/usr/bin/env bash
# The local compose stack's life cycle; the make targets in mk/stack.mk call it.
#
#   stack-ctl.sh up full|minimal        start (public or stand-in images), wait until healthy
#   stack-ctl.sh test-dag DATE ROWS     `airflow dags test` of that day in the stack, then check S3
#   stack-ctl.sh check-s3 DATE ROWS     the day's Parquet objects in the stack's S3 hold ROWS rows
#   stack-ctl.sh trigger FROM [TO] ROWS unpause the DAG and backfill FROM..TO (scheduled-style runs)
#   stack-ctl.sh scale DATE ROWS [K...] runs of DATE in K slices (default 1 2 4): wall times, fingerprints
#   stack-ctl.sh logs [SERVICE...]      follow the logs
#   stack-ctl.sh ps                     the stack's containers
#   stack-ctl.sh down [--volumes]       graceful stop; nothing of the stack stays running
#
# Environment: see scripts/stack-lib.sh and .env.example.
set -euo pipefail
# shellcheck source=scripts/stack-lib.sh
source "$(dirname "$0")/stack-lib.sh"

DAG_ID=daily_synthetic
NETWORK="$COMPOSE_PROJECT_NAME-net"
# Commands on the whole project (down, ps, logs) name every profile; `up` names one.
STACK_PROFILES=(--profile full --profile minimal)

compose_files=(-f "$STACK_ROOT/compose.yaml")
if [ "${STACK_DAGS:-baked}" = mount ]; then
  compose_files+=(-f "$STACK_ROOT/containers/compose.dags-mount.yaml")
fi
compose() {
  local env_file=()
  # The stack's own .env only (not the work tree's, when STACK_ENV_FILE points elsewhere).
  [ ! -f "$STACK_ENV_FILE" ] || env_file=(--env-file "$STACK_ENV_FILE")
  docker compose "${env_file[@]}" "${compose_files[@]}" "$@"
}

# compose checks every ${VAR:?} on down, ps and logs too, and a stack that never started
# has no secrets yet: stand-ins for those commands only, never for `up`.
stub_missing_secrets() {
  local key
  for key in "${SECRET_KEYS[@]}"; do
    [ -n "${!key:-}" ] || export "$key=none"
  done
}

# The running container that runs tasks (and so has Docker access, through docker-proxy):
# full profile: the celery worker; minimal: the standalone container.
airflow_service() {
  local running
  running=$(compose "${STACK_PROFILES[@]}" ps --status running --services 2>/dev/null)
  if grep -qx airflow-worker <<<"$running"; then
    echo airflow-worker
  elif grep -qx airflow-standalone <<<"$running"; then
    echo airflow-standalone
  else
    die "the stack is not running: make airflow-up (or airflow-up-minimal) first"
  fi
}

airflow_exec() { # run an airflow CLI command in the task-running container
  local service
  service=$(airflow_service)
  compose exec -T "$service" "$@"
}

# The minimal profile's metadata DB is SQLite: a CLI write that meets the scheduler's
# write fails with "database is locked". Such a command is tried again (5 tries, 2 s apart).
airflow_exec_retrying() {
  local out attempt
  for attempt in 1 2 3 4 5; do
    if out=$(airflow_exec "$@" 2>&1); then
      printf '%s\n' "$out"
      return 0
    fi
    if [[ $out != *"database is locked"* ]] || ((attempt == 5)); then
      printf '%s\n' "$out" >&2
      return 1
    fi
    log "the metadata DB is busy (SQLite: database is locked); trying again in 2 s"
    sleep 2
  done
}

cmd_up() {
  local profile=${1:?full or minimal} other start line
  case "$profile" in
    full) other=minimal ;;
    minimal) other=full ;;
    *) die "unknown profile $profile (full or minimal)" ;;
  esac
  start=$(date +%s)
  ensure_secrets
  # Only one profile at a time: both publish the api-server on AIRFLOW_PORT.
  if [ -n "$(compose --profile "$other" ps -q 2>/dev/null | head -1)" ]; then
    log "stopping the $other profile first"
    cmd_down
  fi
  while IFS= read -r line; do export "${line?}"; done < <(bash scripts/stack-images.sh "$profile")
  log "starting the $profile profile (project $COMPOSE_PROJECT_NAME, job image $DAILY_SYNTHETIC_IMAGE)"
  # --wait: every service healthy and the init steps exited 0, else a non-zero exit.
  local scale=()
  # More Celery workers for scale-out runs (each runs two tasks at a time).
  [ "$profile" != full ] || scale=(--scale "airflow-worker=${STACK_WORKERS:-1}")
  if ! compose --profile "$profile" up -d --remove-orphans "${scale[@]}" --wait \
    --wait-timeout "${STACK_WAIT_TIMEOUT:-600}"; then
    compose --profile "$profile" ps -a >&2
    compose --profile "$profile" logs --tail 40 >&2 || true
    die "the $profile stack did not become healthy"
  fi
  log "$profile stack healthy in $(($(date +%s) - start)) s"
  log "UI: http://127.0.0.1:${AIRFLOW_PORT}  (login ${AIRFLOW_ADMIN_USER} / AIRFLOW_ADMIN_PASSWORD in $STACK_ENV_FILE)"
  log "S3: http://127.0.0.1:${S3_PORT}  bucket ${RAW_BUCKET}"
}

# The day's objects, counted inside the stack: a throw-away job-image container on the
# stack network reads them with boto3 + polars, and finds them with the job's own layout
# code (fraud_detection.sinks.layout), so there is no second copy of the key scheme here.
cmd_check_s3() {
  local day=${1:?DATE} rows=${2:?ROWS}
  docker run --rm -i --network "$NETWORK" --entrypoint python \
    -e RAW_BUCKET -e AWS_DEFAULT_REGION -e AWS_ENDPOINT_URL -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
    "$DAILY_SYNTHETIC_IMAGE" - "$day" "$rows" <<'PY'
import datetime as dt, io, json, os, sys

import boto3
import polars as pl
from fraud_detection.sinks.layout import DayLayout

day, expected = sys.argv[1], int(sys.argv[2])
layout = DayLayout("", dt.date.fromisoformat(day))
bucket = os.environ["RAW_BUCKET"]
s3 = boto3.client("s3")
keys = [
    obj["Key"]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=layout.partition)
    for obj in page.get("Contents", [])
    if obj["Key"].endswith(".parquet")
]
rows = 0
for key in keys:
    n = pl.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())).height
    print(f"s3://{bucket}/{key}: {n} rows")
    rows += n
if rows != expected:
    sys.exit(f"check-s3: {day}: {rows} rows in {len(keys)} object(s), expected {expected}")
manifest = json.loads(s3.get_object(Bucket=bucket, Key=layout.manifest_key)["Body"].read())
if manifest.get("rows") != expected:
    sys.exit(f"check-s3: {day}: the manifest says {manifest.get('rows')} rows, expected {expected}")
print(f"check-s3: {day}: {expected} rows in s3://{bucket}/{layout.partition} ({len(keys)} object(s))")
PY
}

cmd_test_dag() {
  local day=${1:?DATE} rows=${2:?ROWS} unpaused=0 status=0 details
  # While the DAG is unpaused the scheduler drives its running runs too, the test's
  # included: both write the same dag_run row (postgres has ended one with a deadlock).
  # So the DAG is paused for the test and unpaused again after it, pass or fail.
  details=$(airflow_exec airflow dags details "$DAG_ID" -o json 2>/dev/null)
  if [[ $details == *'"is_paused": "False"'* ]]; then
    unpaused=1
    log "pausing $DAG_ID for the test (the scheduler would drive the same run); it is unpaused after"
    airflow_exec_retrying airflow dags pause "$DAG_ID" >/dev/null
  fi
  log "airflow dags test $DAG_ID $day (rows=$rows)"
  airflow_exec airflow dags test "$DAG_ID" "$day" -c "{\"rows\": $rows}" || status=$?
  if ((unpaused)); then
    airflow_exec_retrying airflow dags unpause "$DAG_ID" >/dev/null
  fi
  ((status == 0)) || return "$status"
  cmd_check_s3 "$day" "$rows"
}

cmd_trigger() {
  local from=${1:?FROM} to=${2:-$1} rows=${3:-1000000}
  # Backfill runs are the scheduler's own kind of run (logical date and data interval
  # from the timetable) and, unlike manual runs, may precede the DAG's start date.
  # Day D's run has logical date D 02:00 (the cron time): a day's range is its whole day.
  [[ $from == *T* ]] || from="${from}T00:00:00+00:00"
  [[ $to == *T* ]] || to="${to}T23:59:59+00:00"
  airflow_exec_retrying airflow dags unpause "$DAG_ID" >/dev/null
  airflow_exec_retrying airflow backfill create --dag-id "$DAG_ID" \
    --from-date "$from" --to-date "$to" --max-active-runs 1 \
    --reprocess-behavior completed --dag-run-conf "{\"rows\": $rows}"
  log "follow it at http://127.0.0.1:${AIRFLOW_PORT}/dags/$DAG_ID"
}

# The day's content, independent of how it was sliced: a hash of every row, in
# transaction_id order, computed in a job-image container on the stack network.
day_fingerprint() {
  local day=${1:?DATE}
  docker run --rm -i --network "$NETWORK" --entrypoint python \
    -e RAW_BUCKET -e AWS_DEFAULT_REGION -e AWS_ENDPOINT_URL -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
    "$DAILY_SYNTHETIC_IMAGE" - "$day" <<'PY'
import datetime as dt, hashlib, io, os, sys

import boto3
import polars as pl
from fraud_detection.sinks.layout import DayLayout

layout = DayLayout("", dt.date.fromisoformat(sys.argv[1]))
bucket, s3 = os.environ["RAW_BUCKET"], boto3.client("s3")
pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=layout.partition)
keys = [o["Key"] for p in pages for o in p.get("Contents", []) if o["Key"].endswith(".parquet")]
frame = pl.concat(
    [pl.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())) for k in keys]
).sort("transaction_id")
rows = frame.hash_rows(seed=1).to_numpy().tobytes()
print(f"{frame.height} {len(keys)} {hashlib.sha256(rows).hexdigest()[:16]}")
PY
}

# run_info RUN_ID state|seconds: a DAG run's state, or its wall time (start to end).
run_info() {
  # The CLI may print warnings before its JSON: the JSON is the last line.
  airflow_exec airflow dags list-runs "$DAG_ID" -o json 2>/dev/null | tail -n 1 | python3 -c "
import datetime as dt, json, sys
run = next((r for r in json.load(sys.stdin) if r['run_id'] == sys.argv[1]), {})
if sys.argv[2] == 'state':
    print(run.get('state', ''))
else:
    start, end = (dt.datetime.fromisoformat(run[k]) for k in ('start_date', 'end_date'))
    print(f'{(end - start).total_seconds():.1f}')
" "$1" "$2"
}

# Run DATE once per slice count K (max_active_runs=1: one after the other) through the
# scheduler and the executor, the way scheduled runs go; print the run's wall time (start
# to end of the DAG run) and the day's fingerprint after it.
cmd_scale() {
  local day=${1:?DATE} rows=${2:?ROWS}
  shift 2
  local counts=("$@")
  [ ${#counts[@]} -gt 0 ] || counts=(1 2 4)
  airflow_exec airflow dags unpause "$DAG_ID" >/dev/null
  printf '| slices | rows | DAG run wall time (s) | objects | fingerprint |\n|---|---|---|---|---|\n'
  local k now at run_id state times
  for k in "${counts[@]}"; do
    now=$(date +%s)
    run_id="scale_${k}_$now"
    # Logical dates are unique per DAG; any time of DATE stands for DATE ({{ ds }}).
    at=$(printf '%02d:%02d' $((now % 3600 / 60)) $((now % 60)))
    airflow_exec airflow dags trigger "$DAG_ID" --run-id "$run_id" \
      --logical-date "${day}T02:${at}+00:00" --conf "{\"rows\": $rows, \"shards\": $k}" >/dev/null
    state=""
    for _ in $(seq 1 "${STACK_SCALE_POLLS:-360}"); do
      state=$(run_info "$run_id" state)
      [[ $state == success || $state == failed ]] && break
      sleep 5
    done
    [ "$state" = success ] || die "run $run_id ended as '${state:-unknown}'"
    times=$(run_info "$run_id" seconds)
    read -r frows objects fingerprint < <(day_fingerprint "$day")
    printf '| %s | %s | %s | %s | %s |\n' "$k" "$frows" "$times" "$objects" "$fingerprint"
  done
}

cmd_down() {
  local volumes=()
  [ "${1:-}" != --volumes ] || volumes=(--volumes)
  # Airflow first, so that no new job container starts; then job containers a killed
  # task may have left on the network (they would keep it from being removed).
  compose "${STACK_PROFILES[@]}" stop --timeout "${STACK_STOP_TIMEOUT:-60}" || true
  local leftovers
  leftovers=$(docker ps -aq --filter "network=$NETWORK" --filter label=io.daily-synthetic.dag_id)
  if [ -n "$leftovers" ]; then
    log "removing job containers left on $NETWORK"
    # shellcheck disable=SC2086
    docker rm -f $leftovers >/dev/null
  fi
  compose "${STACK_PROFILES[@]}" down --remove-orphans "${volumes[@]}"
  local left
  left=$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")
  [ -z "$left" ] || die "containers still there after down: $left"
}

case "${1:-}" in
  up) cmd_up "${2:-full}" ;;
  test-dag) cmd_test_dag "${2:?DATE}" "${3:?ROWS}" ;;
  check-s3) cmd_check_s3 "${2:?DATE}" "${3:?ROWS}" ;;
  trigger) cmd_trigger "${2:?FROM}" "${3:-$2}" "${4:-1000000}" ;;
  logs) shift; stub_missing_secrets; compose "${STACK_PROFILES[@]}" logs -f --tail "${STACK_LOG_TAIL:-200}" "$@" ;;
  ps) stub_missing_secrets; compose "${STACK_PROFILES[@]}" ps -a ;;
  down) stub_missing_secrets; cmd_down "${2:-}" ;;
  scale) shift; cmd_scale "$@" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
