"""The publishing protocol under faults: S3 over HTTP, a relay that fails, stalls or slows
each kind of request, and kills aimed at the phase boundaries the job itself reports.

The S3 server is moto's, threaded in this process on 127.0.0.1; the job runs in this
process (fail/stall/slow cases) or as a real process (signals, kills, two runs at once).
After every case: the guarantees hold for a manifest reader and a glob reader, the error
line names the state the day was left in, and a normal re-run repairs the day and leaves
no staging object, no unfinished upload and no lease.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from mypy_boto3_s3 import S3Client

from fraud_detection.cli import main
from tests.support.day import DayView, keys_under, pending_uploads
from tests.support.faults import Action, FaultRelay
from tests.support.process import Outcome, start_job, wait_for_line
from tests.support.s3 import threaded_moto

pytestmark = pytest.mark.integration

DAY = "2025-06-12"
DAY_PREFIX = "year=2025/month=6/day=12/"
POP = ["--customers", "20000", "--merchants", "2000"]
# Above the job's 16 MiB multipart threshold: the staged upload has parts (at about 50 bytes
# a row, a million rows make 3 parts of 16 MiB).
MULTIPART_ROWS = 1_000_000
STATE = {
    "untouched": "day 2025-06-12 left untouched (as it was before this run)",
    "unknown": "day 2025-06-12 is either as it was or published by this run",
    "published": "day 2025-06-12 is published",
}


def view_of(s3: S3Client, bucket: str) -> DayView:
    return DayView.read(s3, bucket, DAY_PREFIX, DAY, s3.meta.endpoint_url)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    # Its per-request log lines would otherwise land in the job's captured stderr.
    logging.getLogger("werkzeug").disabled = True
    with threaded_moto() as endpoint:
        yield endpoint


@pytest.fixture
def s3(moto_endpoint: str) -> S3Client:
    return boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


@pytest.fixture
def relay(moto_endpoint: str) -> Iterator[FaultRelay]:
    relay = FaultRelay(moto_endpoint)
    yield relay
    relay.close()


@pytest.fixture
def bucket(s3: S3Client) -> str:
    name = f"faults-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def job_env(endpoint: str, tmp: str, **extra: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1",
        "DAILY_SYNTHETIC_S3_CONNECT_TIMEOUT": "2", "DAILY_SYNTHETIC_S3_READ_TIMEOUT": "5",
        "DAILY_SYNTHETIC_LEASE_TTL": "3", "TMPDIR": tmp, **extra,
    }  # fmt: skip


def args(bucket: str, rows: int, seed: int, *extra: str) -> list[str]:
    return ["--date", DAY, "--rows", str(rows), "--seed", str(seed), "--dest", f"s3://{bucket}",
            *POP, *extra]  # fmt: skip


def run_here(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
    argv: list[str],
) -> Outcome:  # fmt: skip
    with monkeypatch.context() as m:
        for name, value in env.items():
            m.setenv(name, value)
        m.setattr("tempfile.tempdir", None)
        code = main(argv)
    out, err = capsys.readouterr()
    return Outcome(code, out, err)


def publish_old_day(
    capsys: Any, monkeypatch: Any, env: dict[str, str], bucket: str
) -> dict[str, Any]:
    """An earlier version of the day, in 2 slices: the new run has other keys and rows."""
    for i in range(2):
        assert (
            run_here(capsys, monkeypatch, env, args(bucket, 6_000, 1, "--shard", f"{i}/2")).code
            == 0
        )
    done = run_here(capsys, monkeypatch, env, args(bucket, 6_000, 1, "--finalize", "--shards", "2"))
    assert done.code == 0, done.err
    return dict(json.loads(done.out.strip().splitlines()[-1]))


def assert_repaired(
    capsys: Any, monkeypatch: Any, env: dict[str, str], s3: S3Client, bucket: str, rows: int
) -> None:
    again = run_here(capsys, monkeypatch, env, args(bucket, rows, 2))
    assert again.code == 0, again.err
    view = view_of(s3, bucket)
    view.check_guarantees()
    assert view.manifest is not None and view.manifest["rows"] == rows
    assert keys_under(s3, bucket, "_staging/") == [], "staging objects left behind"
    assert keys_under(s3, bucket, "_leases/") == [], "a lease left behind"
    assert pending_uploads(s3, bucket) == [], "unfinished multipart uploads left behind"


# (kind of request, what the relay does, rows, --deadline, exit code, the day's state).
# "commit" fails once only: delta-rs retries a 503 on the log (a transient fault is no refusal).
FAULTS: list[tuple[str, Action, int, str, int, str]] = [
    ("put-part", "fail", MULTIPART_ROWS, "60", 3, "untouched"),
    ("complete-multipart", "fail", MULTIPART_ROWS, "60", 3, "untouched"),
    ("staged-put", "fail", 8_000, "60", 3, "untouched"),
    ("copy", "fail", 8_000, "60", 3, "untouched"),
    ("commit", "fail", 8_000, "60", 0, "published"),
    ("manifest-put", "fail", 8_000, "60", 3, "published"),
    ("stale-delete", "fail", 8_000, "60", 3, "published"),
    ("staged-delete", "fail", 8_000, "60", 0, "published"),
    ("staged-put", "stall", 8_000, "4", 8, "untouched"),
    ("copy", "stall", 8_000, "4", 8, "untouched"),
    ("manifest-put", "stall", 8_000, "4", 8, "published"),
    ("copy", "slow", 8_000, "60", 0, "published"),
]


@pytest.mark.parametrize(
    ("kind", "action", "rows", "deadline", "code", "state"),
    FAULTS,
    ids=[f"{k}-{a}" for k, a, *_ in FAULTS],
)
def test_fault_leaves_a_named_state_that_the_next_run_repairs(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    s3: S3Client,
    relay: FaultRelay,
    moto_endpoint: str,
    bucket: str,
    kind: str,
    action: Action,
    rows: int,
    deadline: str,
    code: int,
    state: str,
) -> None:
    direct = job_env(moto_endpoint, str(tmp_path))
    old = publish_old_day(capsys, monkeypatch, direct, bucket)
    relay.add(kind, action, delay=1.0, times=1 if kind == "commit" else None)
    started = time.monotonic()
    outcome = run_here(
        capsys, monkeypatch, job_env(relay.endpoint, str(tmp_path)),
        args(bucket, rows, 2, "--deadline", deadline),
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert outcome.code == code, outcome.err
    assert relay.count(kind) >= 1, f"the job sent no {kind} request"
    view = view_of(s3, bucket)
    view.check_guarantees()
    if code != 0:
        assert (
            outcome.last.startswith("daily-synthetic: error: ") and "Traceback" not in outcome.err
        )
        assert STATE[state] in outcome.last
        assert outcome.out == ""
    if action == "stall":
        assert elapsed < float(deadline) + 3, f"the deadline did not bound the run: {elapsed:.1f} s"
    if state == "untouched":
        assert view.manifest == old, "an untouched day changed"
        assert sorted(view.table) == sorted(old["keys"]), "an untouched day changed"
    elif state == "published":
        assert view.table_rows == rows
    if action == "slow":
        assert "glob window 1." in outcome.err or "glob window 2." in outcome.err
    relay.rules.clear()
    assert_repaired(capsys, monkeypatch, direct, s3, bucket, 8_000)


# --- real processes: signals, kills and two runs at once ------------------------------------


# The job's own progress lines mark the phase boundaries.
PHASES = {
    "generating": "generated",
    "uploading": "stage: uploading",
    "promoting": "publish: promoting",
}


@pytest.mark.parametrize("phase", PHASES)
def test_sigterm_takes_effect_within_two_seconds_in_every_phase(
    tmp_path: Any, s3: S3Client, relay: FaultRelay, moto_endpoint: str, bucket: str, phase: str
) -> None:
    # The upload stalls and every copy is slow: each phase lasts long enough to be hit.
    relay.add("staged-put", "stall") if phase == "uploading" else relay.add("copy", "slow", delay=3)
    env = job_env(relay.endpoint, str(tmp_path))
    rows = 2_000_000 if phase == "generating" else 8_000
    proc = start_job(env, args(bucket, rows, 2))
    lines: list[str] = []
    wait_for_line(proc, PHASES[phase], lines)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=30)
    latency = time.monotonic() - sent
    print(f"SIGTERM latency while {phase}: {latency:.2f} s")
    assert proc.returncode == 128 + signal.SIGTERM, rest
    assert latency < 2.0, f"SIGTERM took {latency:.2f} s while {phase}"
    last = rest.strip().splitlines()[-1]
    assert last.startswith("daily-synthetic: error: interrupted by SIGTERM; ")
    expected = "untouched"
    assert STATE[expected] in last
    view_of(s3, bucket).check_guarantees()
    assert keys_under(s3, bucket, "_leases/") == [], "SIGTERM left the lease held"
    relay.rules.clear()
    assert_repaired_process(env, s3, bucket)


def assert_repaired_process(env: dict[str, str], s3: S3Client, bucket: str) -> None:
    proc = start_job(env, args(bucket, 8_000, 2))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    view = view_of(s3, bucket)
    view.check_guarantees()
    assert view.manifest is not None and view.manifest["rows"] == 8_000
    assert keys_under(s3, bucket, "_staging/") == [] and pending_uploads(s3, bucket) == []
    assert keys_under(s3, bucket, "_leases/") == []


@pytest.mark.parametrize("phase", ["uploading", "promoting"])
def test_sigkill_at_a_phase_boundary_keeps_the_guarantees(
    tmp_path: Any, s3: S3Client, relay: FaultRelay, moto_endpoint: str, bucket: str, phase: str
) -> None:
    relay.add("put-part", "slow", delay=1) if phase == "uploading" else relay.add(
        "copy", "slow", delay=2
    )
    env = job_env(relay.endpoint, str(tmp_path))
    rows = MULTIPART_ROWS if phase == "uploading" else 8_000
    proc = start_job(env, args(bucket, rows, 2, "--deadline", "120"))
    lines: list[str] = []
    wait_for_line(proc, ": 25% of" if phase == "uploading" else PHASES[phase], lines)
    proc.kill()
    proc.communicate(timeout=30)
    view = view_of(s3, bucket)
    view.check_guarantees()
    # The killed run no longer renews its lease: once its time to live (3 s here) has
    # passed since the last renewal, the next run (the DAG's retry) takes it and repairs.
    relay.rules.clear()
    if phase == "uploading":
        assert pending_uploads(s3, bucket) != [], "the kill did not land mid-upload"
    killed = time.monotonic()
    time.sleep(3.5)
    assert_repaired_process(env, s3, bucket)
    print(f"killed while {phase}: the next run published {time.monotonic() - killed:.1f} s later")


def test_two_runs_of_one_day_at_once_one_publishes_the_other_exits_7(
    tmp_path: Any, s3: S3Client, relay: FaultRelay, bucket: str
) -> None:
    # Started together; a slow staging upload keeps the winner's lease held meanwhile.
    relay.add("staged-put", "slow", delay=3)  # below the 5 s read timeout
    env = job_env(relay.endpoint, str(tmp_path))
    runs = {rows: start_job(env, args(bucket, rows, 2)) for rows in (8_000, 12_000)}
    results = {
        rows: (proc.communicate(timeout=90)[1], proc.returncode) for rows, proc in runs.items()
    }
    codes = sorted(code for _, code in results.values())
    assert codes == [0, 7], results
    (winner,) = [rows for rows, (_, code) in results.items() if code == 0]
    (loser_err,) = [err for err, code in results.values() if code == 7]
    last = loser_err.strip().splitlines()[-1]
    assert "is being written by run " in last and STATE["untouched"] in last
    view = view_of(s3, bucket)
    view.check_guarantees()
    assert view.manifest is not None and view.manifest["rows"] == winner
    assert keys_under(s3, bucket, "_leases/") == [] and keys_under(s3, bucket, "_staging/") == []


def test_a_store_that_ignores_conditional_writes_is_named_at_start(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    s3: S3Client,
    relay: FaultRelay,
    bucket: str,
) -> None:
    """A store that accepts If-None-Match and ignores it (rclone `serve s3` 1.75): the job says
    so, and publishes under its strict lease (tests/integration/test_stack_store.py)."""
    relay.add("lease-put", "ignore-conditions")
    outcome = run_here(
        capsys, monkeypatch, job_env(relay.endpoint, str(tmp_path)), args(bucket, 2_000, 2)
    )
    assert outcome.code == 0, outcome.err
    warnings = [line for line in outcome.err.splitlines() if " WARNING " in line]
    assert len(warnings) == 1
    assert "ignores conditional writes (If-None-Match, If-Match)" in warnings[0]
    view_of(s3, bucket).check_guarantees()


def test_a_zombie_writer_is_fenced_off_by_the_commit_log(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    s3: S3Client,
    relay: FaultRelay,
    moto_endpoint: str,
    bucket: str,
) -> None:
    """A pauses past its lease at its commit, B takes the day over and publishes, A resumes."""
    direct = job_env(moto_endpoint, str(tmp_path))
    publish_old_day(capsys, monkeypatch, direct, bucket)
    relay.add("commit", "stall")  # A's commit is held at the relay, then A is stopped
    zombie = start_job(job_env(relay.endpoint, str(tmp_path)), args(bucket, 12_000, 3))
    deadline = time.monotonic() + 90
    while relay.count("commit") == 0:
        assert zombie.poll() is None and time.monotonic() < deadline, "A never reached its commit"
        time.sleep(0.05)
    zombie.send_signal(signal.SIGSTOP)
    try:
        time.sleep(4.5)  # past its 3 s lease: no heartbeat while stopped
        winner = start_job(direct, args(bucket, 8_000, 2))
        _, err = winner.communicate(timeout=120)
        assert winner.returncode == 0, err
        assert "took over the expired lease" in err
    finally:
        relay.rules.clear()
        relay.release()  # A's held request ends unanswered; its retry reaches the store
        zombie.send_signal(signal.SIGCONT)
    _, rest = zombie.communicate(timeout=120)
    assert zombie.returncode == 10, rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith("daily-synthetic: error: the table at s3://")
    assert "another run published 2025-06-12 first" in last and STATE["untouched"] in last
    view = view_of(s3, bucket)
    view.check_guarantees()
    assert view.manifest is not None and view.manifest["rows"] == view.table_rows == 8_000
    assert sorted(view.parquet) == sorted(view.table), "the zombie left files in the day"


# A reader in its own process: reads the day through each table in a loop until told to stop,
# and looks at the day folder as a glob reader would. One JSON line per read.
READER = """
import json, sys, time
import boto3
from deltalake import DeltaTable
endpoint, bucket, stop = sys.argv[1], sys.argv[2], sys.argv[3]
opts = {"endpoint": endpoint, "allow_http": "true", "region": "us-east-1",
        "access_key_id": "testing", "secret_access_key": "testing"}
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
import os
while not os.path.exists(stop):
    for name in ("raw", "reports"):
        try:
            table = DeltaTable(f"s3://{bucket}/{name}", storage_options=opts)
            day = table.to_pyarrow_table(
                columns=["transaction_id"], filters=[("day", "=", 12)]
            ).column(0).to_pylist()
            glob = [o["Key"] for o in s3.list_objects_v2(
                Bucket=bucket, Prefix=f"{name}/year=2025/month=6/day=12/").get("Contents", [])]
            print(json.dumps([name, table.version(), len(day), len(set(day)), len(glob)]), flush=True)
        except Exception as exc:  # no table yet, or a file deleted under a read: read again
            print(json.dumps([name, type(exc).__name__, str(exc)[:120]]), flush=True)
"""


def test_readers_in_a_loop_during_replaces_see_whole_days(
    tmp_path: Any, s3: S3Client, moto_endpoint: str, bucket: str
) -> None:
    """Payments and fraud reports, replaced three times while two processes read them."""
    env = job_env(moto_endpoint, str(tmp_path))
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, moto_endpoint, bucket, str(stop)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    valid: dict[str, set[int]] = {"raw": set(), "reports": set()}
    try:
        for rows in (8_000, 5_000, 8_000, 12_000):
            argv = [*args(bucket, rows, 2), "--labels-dest", f"s3://{bucket}/reports"]
            argv[argv.index("--dest") + 1] = f"s3://{bucket}/raw"
            writer = start_job(env, argv)
            _, err = writer.communicate(timeout=120)
            assert writer.returncode == 0, err
            valid["raw"].add(rows)
            reports = json.loads(
                s3.get_object(Bucket=bucket, Key=f"reports/_manifests/{DAY}.json")["Body"].read()
            )
            valid["reports"].add(reports["rows"])
    finally:
        stop.touch()
        outputs = [reader.communicate(timeout=60) for reader in readers]
    reads = [json.loads(line) for out, _ in outputs for line in out.splitlines()]
    whole = [r for r in reads if isinstance(r[1], int)]
    failed = [r for r in reads if not isinstance(r[1], int)]
    assert len(whole) > 20, (outputs, failed)
    for name, _version, rows, distinct, _files in whole:
        assert rows in valid[name] | {0}, (
            f"{name}: a read saw {rows} rows of the day ({valid[name]})"
        )
        assert distinct == rows, f"{name}: a read saw rows twice"
    doubled = sum(1 for r in whole if r[4] > 1)
    print(
        f"{len(whole)} table reads, all whole; {len(failed)} read again "
        f"({sorted({r[1] for r in failed})}); the day folder held two runs' files "
        f"in {doubled} of them (the glob readers' window)"
    )
