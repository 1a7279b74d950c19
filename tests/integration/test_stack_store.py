"""The job against the local stack's own S3 store (compose.yaml's `s3store`: rclone `serve s3`).

That store accepts `If-None-Match` and `If-Match` on PutObject and ignores them, so neither
the lease nor the table's log can keep a second writer of a day out there. The job finds
that out with a probe and keeps the day to one writer by refusing it (exit 7, one line)
while another run holds it or may still commit to it. Each case runs the job as a real
process against the store's real image, as the stack runs it; after each, the day a reader
sees is whole and is one run's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from mypy_boto3_s3 import S3Client
from testcontainers.core.container import DockerContainer

from fraud_detection.sinks.lease import LeaseInfo
from fraud_detection.sinks.s3 import S3Destination
from tests.support.day import DayView, keys_under
from tests.support.images import ROOT
from tests.support.process import Outcome, start_job, wait_for_line
from tests.support.s3 import free_port, s3_client, wait_for_s3
from tests.support.session import AWS_ENV, LABELS

pytestmark = pytest.mark.integration

DAY = "2025-06-12"
DAY_PREFIX = "year=2025/month=6/day=12/"
POP = ["--customers", "20000", "--merchants", "2000"]
LEASE_TTL = 3.0  # seconds; DAILY_SYNTHETIC_LEASE_TTL of every run here
DEADLINE = 15.0  # --deadline of a run that is killed or paused: how long it may hold the day
UNTOUCHED = f"day {DAY} left untouched (as it was before this run)"
IGNORED = "ignores conditional writes (If-None-Match, If-Match)"


def _store_image() -> str:
    """S3STORE_IMAGE, else what the stack itself would run (`make stack-store-image`)."""
    if image := os.environ.get("S3STORE_IMAGE"):
        return image
    done = subprocess.run(
        ["make", "-s", "stack-store-image"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    image = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not image:
        pytest.fail(f"make stack-store-image failed ({done.returncode}): {done.stderr[-2000:]}")
    return image


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The stack's store, started as compose.yaml starts it, on a free loopback port."""
    port = free_port()
    keys = f'"{AWS_ENV["AWS_ACCESS_KEY_ID"]},{AWS_ENV["AWS_SECRET_ACCESS_KEY"]}"'
    container = (
        DockerContainer(_store_image())
        .with_command(["serve", "s3", f"--addr=127.0.0.1:{port}", "/data"])
        .with_env("RCLONE_AUTH_KEY", keys)
        .with_kwargs(network_mode="host", labels=LABELS)
    )
    container.start()
    url = f"http://127.0.0.1:{port}"
    wait_for_s3(container, url, "the S3 store")
    yield url
    container.stop()


@pytest.fixture
def s3(endpoint: str) -> S3Client:
    return s3_client(endpoint)


@pytest.fixture
def bucket(s3: S3Client) -> str:
    name = f"store-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def env_for(endpoint: str) -> dict[str, str]:
    return {
        **os.environ, **AWS_ENV, "AWS_ENDPOINT_URL": endpoint, "AWS_MAX_ATTEMPTS": "2",
        "DAILY_SYNTHETIC_LEASE_TTL": str(LEASE_TTL),
    }  # fmt: skip


def start(endpoint: str, bucket: str, rows: int, seed: int, *extra: str) -> subprocess.Popen[str]:
    argv = ["--date", DAY, "--rows", str(rows), "--seed", str(seed), "--dest", f"s3://{bucket}"]
    return start_job(env_for(endpoint), [*argv, *POP, *extra])


def run(endpoint: str, bucket: str, rows: int, seed: int, *extra: str) -> Outcome:
    proc = start(endpoint, bucket, rows, seed, *extra)
    out, err = proc.communicate(timeout=120)
    return Outcome(proc.returncode, out, err)


def view_of(endpoint: str, bucket: str) -> DayView:
    return DayView.read(s3_client(endpoint), bucket, DAY_PREFIX, DAY, endpoint)


def assert_published_by_one_run(endpoint: str, bucket: str, rows: int) -> None:
    view = view_of(endpoint, bucket)
    view.check_guarantees()
    assert view.manifest is not None and view.manifest["rows"] == view.table_rows == rows
    assert sorted(view.parquet) == sorted(view.table), "a glob reader sees another run's files"
    s3 = s3_client(endpoint)
    assert keys_under(s3, bucket, "_leases/") == [] and keys_under(s3, bucket, "_staging/") == []


def test_the_store_ignores_conditional_writes_and_the_job_says_so(
    endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env_for(endpoint).items():
        monkeypatch.setenv(name, value)
    # The fact the rest rests on, measured: if a later rclone honours the headers, this
    # fails, and the job's strict lease (and docs/contract.md) can be revisited.
    assert S3Destination(bucket).conditional_writes() is False
    outcome = run(endpoint, bucket, 3_000, 1)
    assert outcome.code == 0, outcome.err
    warnings = [line for line in outcome.err.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and IGNORED in warnings[0], warnings
    assert_published_by_one_run(endpoint, bucket, 3_000)


def test_two_runs_at_once_one_publishes_the_other_exits_7(endpoint: str, bucket: str) -> None:
    runs = {rows: start(endpoint, bucket, rows, 2) for rows in (3_000, 4_000)}
    results = {rows: proc.communicate(timeout=120) for rows, proc in runs.items()}
    codes = {rows: runs[rows].returncode for rows in runs}
    assert sorted(codes.values()) == [0, 7], {r: e[1][-2000:] for r, e in results.items()}
    (winner,) = [rows for rows, code in codes.items() if code == 0]
    (loser,) = [rows for rows, code in codes.items() if code == 7]
    last = results[loser][1].strip().splitlines()[-1]
    assert last.startswith(f"daily-synthetic: error: day {DAY} at s3://{bucket}/"), last
    assert UNTOUCHED in last, last
    assert_published_by_one_run(endpoint, bucket, winner)


def test_a_killed_run_holds_the_day_until_its_deadline_then_the_next_run_takes_it(
    endpoint: str, bucket: str
) -> None:
    killed = start(endpoint, bucket, 20_000, 3, "--deadline", str(DEADLINE))
    wait_for_line(killed, "lease taken", [])
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    at = time.monotonic()
    # Its lease has expired (the store's clock counts whole seconds): on AWS or moto it would
    # be taken over now.
    time.sleep(LEASE_TTL + 2.5)
    refused = run(endpoint, bucket, 3_000, 4)
    print(refused.last)
    assert refused.code == 7, refused.err
    assert refused.last.startswith(f"daily-synthetic: error: day {DAY} at s3://{bucket}/")
    assert IGNORED in refused.last and "re-run after" in refused.last, refused.last
    assert f"delete s3://{bucket}/_leases/{DAY}.json" in refused.last and UNTOUCHED in refused.last
    assert view_of(endpoint, bucket).table_version is None  # nothing published meanwhile
    time.sleep(max(0.0, DEADLINE + 2.5 - (time.monotonic() - at)))  # past the killed run's deadline
    taken = run(endpoint, bucket, 5_000, 4)
    assert taken.code == 0, taken.err
    assert "took over the lease" in taken.err and "past its deadline" in taken.err
    assert_published_by_one_run(endpoint, bucket, 5_000)


def test_a_paused_run_can_no_longer_publish_once_another_run_has_the_day(
    endpoint: str, bucket: str
) -> None:
    """SIGSTOP a run holding the day, let another publish once it may, then SIGCONT it."""
    zombie = start(endpoint, bucket, 20_000, 5, "--deadline", str(DEADLINE))
    wait_for_line(zombie, "lease taken", [])
    zombie.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        # No heartbeat while stopped; until its deadline has passed, the day is refused.
        time.sleep(DEADLINE + 2.5)
        winner = run(endpoint, bucket, 4_000, 6)
        assert winner.code == 0, winner.err
        assert "took over the lease" in winner.err
    finally:
        zombie.send_signal(signal.SIGCONT)
    _, rest = zombie.communicate(timeout=120)
    last = rest.strip().splitlines()[-1]
    print(f"the paused run was stopped {time.monotonic() - stopped:.1f} s; its last line: {last}")
    assert zombie.returncode in (7, 8), rest  # its deadline or the lease stops it
    assert last.startswith("daily-synthetic: error: ") and UNTOUCHED in last, last
    assert_published_by_one_run(endpoint, bucket, 4_000)


def test_a_run_whose_lease_was_overwritten_stops_before_its_commit(
    endpoint: str, bucket: str, s3: S3Client
) -> None:
    """Nothing on this store refuses a write over a live lease: the run finds out right before
    its commit (or at its heartbeat) and stops there, leaving the day as it was."""
    run = start(endpoint, bucket, 50_000, 7)
    wait_for_line(run, "lease taken", [])
    intruder = LeaseInfo.new(60.0, 600.0)
    s3.put_object(Bucket=bucket, Key=f"_leases/{DAY}.json", Body=intruder.to_json().encode())
    _, rest = run.communicate(timeout=120)
    last = rest.strip().splitlines()[-1]
    assert run.returncode == 7, rest
    assert last.startswith(f"daily-synthetic: error: day {DAY} at s3://{bucket}/"), last
    assert f"lease was taken over by run {intruder.run_id} " in last and UNTOUCHED in last, last
    view = view_of(endpoint, bucket)
    assert view.table_version is None and view.parquet == {}, "the run published or left files"
    got = s3.get_object(Bucket=bucket, Key=f"_leases/{DAY}.json")["Body"].read().decode()
    assert LeaseInfo.parse(got) == intruder  # the run never wrote over the intruder's lease
