"""The job image against moto's S3 server: what lands in the bucket, re-runs, bad input."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from fraud_detection.errors import DestinationError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.support.job import JobRunner
    from tests.support.s3 import Bucket

pytestmark = pytest.mark.integration

ROWS = 20_000


def day_prefix(date: str, prefix: str = "") -> str:
    """The contract's layout, spelled out here rather than imported from the job."""
    year, month, day = (int(part) for part in date.split("-"))  # no zero padding
    return f"{prefix}year={year}/month={month}/day={day}/"


def log_and_manifest(date: str, prefix: str = "") -> list[str]:
    """The table's first log entry and the day's manifest: the only objects beside the day."""
    return [f"{prefix}_delta_log/00000000000000000000.json", f"{prefix}_manifests/{date}.json"]


@pytest.mark.parametrize("prefix", ["", "raw/payments"])
def test_publishes_one_day_under_year_month_day(
    job: JobRunner, bucket: Bucket, prefix: str
) -> None:
    dest = f"{bucket.uri}/{prefix}" if prefix else bucket.uri
    run = job.run(["--date", "2025-06-12", "--rows", str(ROWS), "--seed", "11", "--dest", dest])
    run.assert_ok()
    manifest = run.manifest

    day = day_prefix("2025-06-12", f"{prefix}/" if prefix else "")
    assert manifest["uri"] == f"{bucket.uri}/{day}"
    assert (manifest["date"], manifest["rows"], manifest["seed"]) == ("2025-06-12", ROWS, 11)
    assert 0 < manifest["fraud_rate"] < 0.05 and manifest["generator_version"]
    # Exactly the manifest's objects in the day, the log and the manifest, nothing else.
    root = f"{prefix}/" if prefix else ""
    assert bucket.listing() == sorted([*manifest["keys"], *log_and_manifest("2025-06-12", root)])
    assert all(key.startswith(day) for key in manifest["keys"])
    assert manifest["manifest_key"] == f"{root}_manifests/2025-06-12.json"
    assert manifest["table_version"] == 0

    frame = bucket.frame(manifest["keys"])
    assert frame.height == ROWS
    (key,) = manifest["keys"]
    body = bucket.get(key)
    assert (len(body), hashlib.sha256(body).hexdigest()) == (manifest["bytes"], manifest["sha256"])
    stored = json.loads(bucket.get(manifest["manifest_key"]))
    assert stored == manifest, "the _manifest.json object differs from the printed manifest"


def test_raw_bucket_is_the_default_destination(job: JobRunner, bucket: Bucket) -> None:
    run = job.run(["--date", "2025-06-12", "--rows", "5000"], env={"RAW_BUCKET": bucket.name})
    run.assert_ok()
    assert run.manifest["uri"] == f"{bucket.uri}/{day_prefix('2025-06-12')}"
    assert bucket.frame(bucket.listing("year=")).height == 5000


def test_rerun_replaces_the_day(job: JobRunner, bucket: Bucket) -> None:
    args = ["--date", "2025-06-13", "--seed", "5", "--dest", bucket.uri]
    day = day_prefix("2025-06-13")
    first = job.run([*args, "--rows", str(ROWS)])
    first.assert_ok()
    first_objects = {key: bucket.get(key) for key in first.manifest["keys"]}

    # A leftover of a killed run, and a neighbouring folder the table does not know (survives).
    stale = f"{day}part-0123456789ab-00001-of-00002.parquet"
    neighbour = f"{day_prefix('2025-06-14')}part-00000-of-00001.parquet"
    for key in (stale, neighbour):
        bucket.put(key, b"not from this run")

    again = job.run([*args, "--rows", str(ROWS)])
    again.assert_ok()
    assert bucket.listing(day) == sorted(
        again.manifest["keys"]
    )  # the first run's and the leftover gone
    assert list({key: bucket.get(key) for key in again.manifest["keys"]}.values()) == list(
        first_objects.values()
    )  # the same bytes, under the new run's key
    assert again.manifest["keys"] != first.manifest["keys"]
    assert (again.manifest["sha256"], again.manifest["rows"]) == (first.manifest["sha256"], ROWS)

    fewer = job.run([*args, "--rows", "5000"])
    fewer.assert_ok()
    assert bucket.listing(day) == sorted(fewer.manifest["keys"])
    assert fewer.manifest["table_version"] == 2
    assert bucket.frame(bucket.listing(day)).height == 5000
    assert fewer.manifest["sha256"] != first.manifest["sha256"]
    assert bucket.listing(day_prefix("2025-06-14")) == [neighbour]


BAD_ARGUMENTS = {
    "impossible-date": ["--date", "2025-02-30", "--rows", "100"],
    "date-missing": ["--rows", "100"],
    "rows-zero": ["--date", "2025-06-12", "--rows", "0"],
    "rows-not-a-number": ["--date", "2025-06-12", "--rows", "ten"],
    "fraud-rate-above-one": ["--date", "2025-06-12", "--rows", "100", "--fraud-rate", "1.5"],
    "shard-out-of-range": ["--date", "2025-06-12", "--rows", "100", "--shard", "2/2"],
    "unknown-option": ["--date", "2025-06-12", "--rows", "100", "--colour", "red"],
    "unsupported-scheme": ["--date", "2025-06-12", "--rows", "100", "--dest", "ftp://host/x"],
    "invalid-bucket-name": ["--date", "2025-06-12", "--rows", "100", "--dest", "s3://Not_A_Bucket"],
    "no-destination": ["--date", "2025-06-12", "--rows", "100"],
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_bad_arguments_fail_with_one_line(job: JobRunner, bucket: Bucket, case: str) -> None:
    args = BAD_ARGUMENTS[case]
    if "--dest" not in args and case != "no-destination":
        args = [*args, "--dest", bucket.uri]
    run = job.run(args)  # RAW_BUCKET is not set: no default destination either
    assert run.exit_code == UsageError.exit_code == 2, f"exit {run.exit_code}\n{run.stderr}"
    run.assert_one_line_error()
    assert run.stderr_lines == [run.stderr_lines[-1]], "usage errors should be the only output"
    assert run.stdout == ""
    assert bucket.listing() == []


def test_missing_bucket_fails_and_creates_nothing(job: JobRunner, s3: S3Client) -> None:
    missing = f"it-missing-{uuid.uuid4().hex[:12]}"
    run = job.run(["--date", "2025-06-12", "--rows", str(ROWS), "--dest", f"s3://{missing}"])
    assert run.exit_code == DestinationError.exit_code, f"exit {run.exit_code}\n{run.stderr}"
    assert missing in run.assert_one_line_error()
    assert run.stdout == ""
    with pytest.raises(ClientError) as raised:
        s3.head_bucket(Bucket=missing)
    assert raised.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
