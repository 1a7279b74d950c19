"""Losing S3 or being stopped mid-upload leaves the published day untouched; no run leaves
files behind.

moto's server sits behind a `Relay`, which acts once a set number of request bytes
went through, so the failure lands inside the Parquet upload on every run, however fast the
machine. Why not simply stop moto's container: it keeps objects in memory only, so the
evidence ("no object was left") would die with it. Instead the server is lost from the job's
side (connections reset and the port closed, or the server frozen) while moto keeps its state.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from docker.client import DockerClient
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from fraud_detection.errors import DestinationError, DiskFull

if TYPE_CHECKING:
    from tests.support.job import JobRunner
    from tests.support.relay import Relay
    from tests.support.s3 import Bucket, Moto

    RelayFactory = Callable[[int, int, Callable[[Relay], None]], Relay]

pytestmark = pytest.mark.integration

# About 30 MB of Parquet (about 50 bytes a row): above the job's 16 MiB multipart threshold,
# so the upload has parts.
ROWS = 600_000
# Act well inside the body: the preflight and listing requests before it are a few KB.
ACT_AFTER_BYTES = 8 * 1024 * 1024
# Bounded waits on a frozen server (the job's own knobs), so the test stays short.
FAST_FAIL = {
    "DAILY_SYNTHETIC_S3_CONNECT_TIMEOUT": "2",
    "DAILY_SYNTHETIC_S3_READ_TIMEOUT": "2",
    "AWS_MAX_ATTEMPTS": "2",
}


def job_args(bucket: Bucket, rows: int = ROWS) -> list[str]:
    return ["--date", "2025-06-15", "--rows", str(rows), "--seed", "3", "--dest", bucket.uri]


@pytest.mark.parametrize("loss", ["connection-reset", "server-frozen"])
def test_s3_lost_mid_upload_publishes_nothing(
    job: JobRunner,
    moto: Moto,
    moto_factory: Callable[[], Moto],
    relay_factory: RelayFactory,
    loss: str,
) -> None:
    if loss == "server-frozen":
        moto = moto_factory()  # a server of its own: the shared one must never freeze
    bucket = moto.new_bucket()
    server = moto.container.get_wrapped_container()

    def lose(relay: Relay) -> None:
        if loss == "connection-reset":
            relay.cut()  # as if the server process died: RST, then nothing listens
            return
        # The server hangs: connections stay open, nothing answers. The cgroup freezer can
        # refuse once under load ("unable to freeze"): the relay holds the upload meanwhile.
        for attempt in range(5):
            try:
                server.pause()
                return
            except APIError:
                if attempt == 4:
                    raise
                time.sleep(1)

    relay = relay_factory(moto.port, ACT_AFTER_BYTES, lose)
    try:
        run = job.run(job_args(bucket), endpoint=relay.endpoint, env=FAST_FAIL)
    finally:
        server.reload()
        if server.status == "paused":
            server.unpause()
    assert relay.acted.is_set(), "the job never got that far into the upload"
    assert relay.action_error is None, f"could not lose the server: {relay.action_error}"
    assert run.exit_code == DestinationError.exit_code, f"exit {run.exit_code}\n{run.stderr}"
    run.assert_one_line_error()
    assert run.stdout == ""
    assert "day 2025-06-15 left untouched" in run.assert_one_line_error()
    # Nothing readable: no day folder. Only the run's lease may remain (the server vanished
    # before it could be released); it expires after the run's deadline.
    assert [k for k in bucket.listing() if not k.startswith("_leases/")] == []


def test_sigterm_mid_upload_aborts_and_publishes_nothing(
    job: JobRunner, moto: Moto, bucket: Bucket, relay_factory: RelayFactory
) -> None:
    """What Airflow does on a task timeout or a cancelled run: `docker stop`, i.e. SIGTERM."""
    started = threading.Event()
    holder: list[Container] = []

    def stop_job(_: Relay) -> None:
        started.wait(30)
        holder[0].kill(signal="SIGTERM")  # `docker stop`'s first step; the relay keeps relaying

    relay = relay_factory(moto.port, ACT_AFTER_BYTES, stop_job)
    holder.append(job.start(job_args(bucket), endpoint=relay.endpoint))
    started.set()
    run = job.finish(holder[0])
    assert relay.acted.is_set(), "the job never got that far into the upload"
    assert relay.action_error is None, relay.action_error
    assert run.exit_code == 128 + signal.SIGTERM, f"exit {run.exit_code}\n{run.stderr}"
    assert "SIGTERM" in run.assert_one_line_error()
    assert bucket.listing() == [], "the lease is released and nothing is staged"
    assert bucket.pending_uploads() == [], "the multipart upload was not aborted"


@pytest.mark.parametrize("outcome", ["published", "upload-failed"])
def test_container_leaves_no_files_behind(
    job: JobRunner,
    docker_client: DockerClient,
    moto: Moto,
    bucket: Bucket,
    relay_factory: RelayFactory,
    outcome: str,
) -> None:
    """The ADR's `cleanup` task is the container's throw-away filesystem plus the job's own
    clean-up. Run with a writable root (not --read-only) so that anything the job forgot
    would stay in the container's layer, then look at the layer's diff before removing it."""
    if outcome == "published":
        endpoint, args = moto.endpoint, job_args(bucket, rows=20_000)
    else:
        endpoint = relay_factory(moto.port, ACT_AFTER_BYTES, lambda relay: relay.cut()).endpoint
        args = job_args(bucket)
    container = job.start(args, endpoint=endpoint, hardened=False)
    run = job.finish(container, remove=False)
    assert (run.exit_code == 0) == (outcome == "published"), run.stderr

    added = [change["Path"] for change in container.diff() or [] if change["Kind"] == 1]
    assert added == [], f"files left in the container: {added}"
    container.remove(v=True)
    with pytest.raises(NotFound):
        docker_client.containers.get(container.id)


def test_full_disk_fails_clearly_and_publishes_nothing(job: JobRunner, bucket: Bucket) -> None:
    """A /tmp too small for the day's Parquet file: ENOSPC while writing, caught and named."""
    tiny_tmp = {"tmpfs": {"/tmp": "size=2m"}}
    run = job.run(job_args(bucket, rows=200_000), overrides=tiny_tmp)
    assert run.exit_code == DiskFull.exit_code, f"exit {run.exit_code}\n{run.stderr}"
    assert "no space left on device" in run.assert_one_line_error()
    assert run.stdout == ""
    assert bucket.listing() == []


def test_read_only_destination_is_one_line_and_exit_3(job: JobRunner) -> None:
    """The hardened container's root is read-only: a local --dest there cannot be written."""
    run = job.run(["--date", "2025-06-12", "--rows", "1000", "--dest", "/srv/raw"])
    assert run.exit_code == 3, f"exit {run.exit_code}\n{run.stderr}"
    line = run.assert_one_line_error()
    assert "Read-only file system" in line and "day 2025-06-12 left untouched" in line


def test_killed_container_publishes_nothing(
    job: JobRunner, moto: Moto, bucket: Bucket, relay_factory: RelayFactory
) -> None:
    """SIGKILL (docker kill, OOM): no chance to clean up, yet no partial object is visible.

    The multipart upload stays pending, invisible to readers, until the next run of the day
    aborts it (or the bucket's AbortIncompleteMultipartUpload lifecycle rule removes it).
    """
    started = threading.Event()
    holder: list[Container] = []

    def kill_job(_: Relay) -> None:
        started.wait(30)
        holder[0].kill(signal="SIGKILL")

    relay = relay_factory(moto.port, ACT_AFTER_BYTES, kill_job)
    holder.append(job.start(job_args(bucket), endpoint=relay.endpoint))
    started.set()
    run = job.finish(holder[0])
    assert relay.acted.is_set(), "the job never got that far into the upload"
    assert run.exit_code == 128 + signal.SIGKILL
    assert run.stdout == ""
    visible = [k for k in bucket.listing() if not k.startswith("_leases/")]
    assert visible == [], "a killed upload left a visible object"
    assert bucket.pending_uploads() != [], "the kill did not land mid-upload"
    # The next run of the day (once the killed run's lease expired) aborts the upload.
    again = job.run(
        [*job_args(bucket, rows=2_000), "--deadline", "30"],
        env={"DAILY_SYNTHETIC_LEASE_TTL": "3"},
    )
    if again.exit_code == 7:  # the killed run's lease (deadline 120 s + rows) still holds
        assert "is being written by run" in again.assert_one_line_error()
        bucket.s3.delete_object(Bucket=bucket.name, Key="_leases/2025-06-15.json")
        again = job.run(job_args(bucket, rows=2_000))
    again.assert_ok()
    assert bucket.pending_uploads() == []
    assert [
        k for k in bucket.listing() if not k.startswith(("year=", "_delta_log/", "_manifests/"))
    ] == []


def test_a_memory_limit_too_small_is_exit_9_before_anything(job: JobRunner, bucket: Bucket) -> None:
    run = job.run(job_args(bucket, rows=1_000_000), overrides={"mem_limit": "300m"})
    assert run.exit_code == 9, f"exit {run.exit_code}\n{run.stderr}"
    assert "the container's memory limit is 300 MB" in run.assert_one_line_error()
    assert bucket.listing() == []
