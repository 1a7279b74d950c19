"""The features step in the job image, reading and publishing over S3 (moto, real HTTP)."""

from __future__ import annotations

import io
import json
from datetime import date

import polars as pl
import pytest

from fraud_detection.features.compute import add_features
from tests.support.job import JobRunner
from tests.support.s3 import Bucket

pytestmark = pytest.mark.integration

DAYS = ("2025-06-10", "2025-06-11", "2025-06-12")
WORLD = ["--customers", "2000", "--merchants", "200"]


def test_features_of_an_s3_day_are_published_beside_the_feed(
    job: JobRunner, bucket: Bucket
) -> None:
    raw_root = f"{bucket.uri}/raw"
    for day in DAYS:
        job.run(["--date", day, "--rows", "5000", "--dest", raw_root, *WORLD]).assert_ok()
    # no --dest: the default is features/ beside raw/
    run = job.run(
        ["--date", DAYS[-1], "--source", raw_root, "--label-delay-days", "1"],
        entrypoint=["payment-features"],
    )
    run.assert_ok()
    manifest = json.loads(run.stdout.strip().splitlines()[-1])
    prefix = "features/year=2025/month=6/day=12/"
    assert manifest["uri"] == f"s3://{bucket.name}/{prefix}"
    assert manifest["source_days"] == list(DAYS)
    log, manifest_key = (
        "features/_delta_log/00000000000000000000.json",
        "features/_manifests/2025-06-12.json",
    )
    assert bucket.listing("features/") == [log, manifest_key, *manifest["keys"]]
    assert manifest["keys"][0].startswith(prefix)
    assert json.loads(bucket.get(manifest_key)) == manifest

    # The same computation in the test process, from the raw objects, gives the same rows.
    raw_keys = [k for k in bucket.listing("raw/year=") if k.endswith(".parquet")]
    raw = pl.concat([pl.read_parquet(io.BytesIO(bucket.get(k))) for k in raw_keys])
    want = add_features(raw.lazy(), date(2025, 6, 12), 1).collect()
    got = pl.read_parquet(io.BytesIO(bucket.get(manifest["keys"][0])))
    assert got.equals(want)
    assert got.height == manifest["rows"] == 5000


def test_an_unpublished_s3_day_fails_in_one_line(job: JobRunner, bucket: Bucket) -> None:
    run = job.run(
        ["--date", "2025-06-12", "--source", f"{bucket.uri}/raw"], entrypoint=["payment-features"]
    )
    assert run.exit_code == 6
    assert "Traceback" not in run.stderr
    assert run.stderr_lines[-1].startswith(
        "payment-features: error: raw day 2025-06-12 is not published"
    )
    assert bucket.listing() == []
