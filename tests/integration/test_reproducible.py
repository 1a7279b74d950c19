"""Same inputs, same day: the image and the developer's venv produce identical data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

if TYPE_CHECKING:
    from tests.support.job import JobRunner
    from tests.support.s3 import Bucket

pytestmark = pytest.mark.integration

ARGS = ["--date", "2025-06-16", "--rows", "20000", "--seed", "23", "--fraud-rate", "0.01"]
# Not `keys`: they carry each publishing run's id.
SAME = ("rows", "fraud_rows", "bytes", "sha256", "fingerprint", "generator_version")


def test_container_and_local_run_give_the_same_day(
    job: JobRunner, bucket: Bucket, tmp_path: Path
) -> None:
    # The local side is the dev venv's interpreter (another Python minor version, other paths).
    local = subprocess.run(
        [sys.executable, "-m", "fraud_detection", *ARGS, "--dest", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert local.returncode == 0, local.stderr
    local_manifest = json.loads(local.stdout.strip().splitlines()[-1])

    run = job.run([*ARGS, "--dest", bucket.uri])
    run.assert_ok()
    container_manifest = run.manifest

    assert {k: container_manifest[k] for k in SAME} == {k: local_manifest[k] for k in SAME}
    (key,) = container_manifest["keys"]
    (local_key,) = local_manifest["keys"]
    assert_frame_equal(bucket.frame([key]), pl.read_parquet(tmp_path / local_key))
    assert bucket.get(key) == (tmp_path / local_key).read_bytes()
