"""The S3 path against moto's server mode: a real HTTP endpoint on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import polars as pl
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from fraud_detection.cli import main
from fraud_detection.errors import DestinationError
from fraud_detection.sinks import s3 as s3_module
from fraud_detection.sinks.s3 import PARQUET_CONTENT_TYPE, S3Destination
from tests.support.s3 import threaded_moto

from .conftest import SMALL

POP = ["--customers", str(SMALL.customers), "--merchants", str(SMALL.merchants)]
PREFIX = "year=2025/month=6/day=12/"
LOG = "_delta_log/"
MANIFEST = "_manifests/2025-06-12.json"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with threaded_moto() as endpoint:
        yield endpoint


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    for key, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TMPDIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr("tempfile.tempdir", None)
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"raw-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    monkeypatch.setenv("RAW_BUCKET", name)
    return name


def job(
    capsys: pytest.CaptureFixture[str], *extra: str, rows: int = 20_000
) -> tuple[int, dict[str, Any], str]:
    code = main(["--date", "2025-06-12", "--rows", str(rows), "--seed", "7", *POP, *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out.strip().splitlines()[-1]) if code == 0 else {}), err


def keys(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def read_rows(s3: Any, bucket: str) -> pl.DataFrame:
    frames = [
        pl.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read()))
        for k in keys(s3, bucket)
        if k.endswith(".parquet") and k.startswith("year=")
    ]
    return pl.concat(frames)


def test_upload_lands_the_day_under_year_month(
    capsys: pytest.CaptureFixture[str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    code, manifest, err = job(capsys)
    assert code == 0, err
    (part,) = manifest["keys"]
    assert keys(s3, bucket) == [LOG + "00000000000000000000.json", MANIFEST, part]
    assert part.startswith(PREFIX + "part-") and part.endswith("-00000-of-00001.parquet")
    assert read_rows(s3, bucket).height == 20_000
    head = s3.head_object(Bucket=bucket, Key=part)
    assert head["ContentType"] == PARQUET_CONTENT_TYPE
    assert "ContentEncoding" not in head  # Parquet's codec lives inside the file
    assert head["Metadata"] == {}  # what the part is, the manifest says
    body = s3.get_object(Bucket=bucket, Key=part)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == manifest["sha256"]
    assert manifest["uri"] == f"s3://{bucket}/{PREFIX}"
    body = s3.get_object(Bucket=bucket, Key=MANIFEST)["Body"].read()
    assert json.loads(body) == manifest and manifest["table_version"] == 0
    assert "uploading" in err and "100%" in err and "committed as table version 0" in err
    assert list(tmp_path.iterdir()) == []


def test_prefix_in_destination(capsys: pytest.CaptureFixture[str], s3: Any, bucket: str) -> None:
    code, manifest, _ = job(capsys, "--dest", f"s3://{bucket}/feeds/payments/", rows=2_000)
    assert code == 0
    (part,) = manifest["keys"]  # keys are the objects' keys, the prefix included
    root = "feeds/payments/"
    assert keys(s3, bucket) == [root + LOG + "00000000000000000000.json", root + MANIFEST, part]
    assert part.startswith(root + PREFIX)
    assert manifest["uri"] == f"s3://{bucket}/feeds/payments/{PREFIX}"
    assert manifest["root"] == f"s3://{bucket}/feeds/payments"


def test_rerun_replaces_the_day(capsys: pytest.CaptureFixture[str], s3: Any, bucket: str) -> None:
    for i in range(3):
        job(capsys, "--shard", f"{i}/3")
    job(capsys, "--finalize", "--shards", "3")
    assert len([k for k in keys(s3, bucket) if k.startswith(PREFIX)]) == 3
    code, manifest, _ = job(capsys, rows=4_000)
    assert code == 0
    assert [k for k in keys(s3, bucket) if k.startswith(PREFIX)] == manifest["keys"]
    assert read_rows(s3, bucket).height == 4_000 == manifest["rows"]


def test_missing_bucket_is_an_error_and_never_created(
    capsys: pytest.CaptureFixture[str], s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAW_BUCKET", "no-such-bucket-here")
    code, _, err = job(capsys)
    assert code == 3
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("daily-synthetic: error: bucket 'no-such-bucket-here' does not exist")
    )
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "no-such-bucket-here" not in names


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dead_endpoint_fails_fast_and_clearly(
    capsys: pytest.CaptureFixture[str], s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    started = time.monotonic()
    code, _, err = job(capsys)
    assert code == 3
    assert f"cannot reach S3 at {dead}" in err
    assert time.monotonic() - started < 60  # botocore's bounded retries, not a hang


def test_failure_mid_upload_leaves_no_object(
    capsys: pytest.CaptureFixture[str], s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small parts make a multipart upload of a modest file; the connection "drops" after the first.
    monkeypatch.setattr(s3_module, "MIB", 1024 * 300)
    calls = {"n": 0}
    real = s3_module._Progress.__call__

    def flaky(self: s3_module._Progress, chunk: int) -> None:
        calls["n"] += 1
        real(self, chunk)
        if self.sent > self.size * 0.3:
            raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(s3_module._Progress, "__call__", flaky)
    code, _, err = job(capsys, rows=60_000)
    assert code == 3, err
    assert "upload" in err.strip().splitlines()[-1]
    assert keys(s3, bucket) == []
    assert (
        s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    )  # aborted, not dangling


@mock_aws
@set_initial_no_auth_action_count(0)
def test_bad_credentials_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # Narrow unit test: moto's in-process IAM check stands in for AWS rejecting keys.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with pytest.raises(DestinationError) as err:
        S3Destination("raw").preflight()
    assert "credentials" in str(err.value) or "access denied" in str(err.value)


def test_no_credentials_at_all(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DestinationError, match="no AWS credentials found"):
        S3Destination("raw").preflight()


def _stubbed(dest: S3Destination) -> Any:
    from botocore.stub import Stubber

    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    dest._client = client
    return Stubber(client)


def test_a_store_that_cannot_list_uploads_has_none_to_abort() -> None:
    """rclone serve s3 answers ListMultipartUploads with NoSuchUpload: nothing to abort."""
    dest = S3Destination(bucket="bucket1")
    stub = _stubbed(dest)
    stub.add_client_error("list_multipart_uploads", "NoSuchUpload", http_status_code=404)
    with stub:
        assert dest.abort_uploads("_staging/2025-06-13/") == 0
    stub.assert_no_pending_responses()


def test_an_upload_gone_meanwhile_is_skipped_and_others_still_aborted() -> None:
    dest = S3Destination(bucket="bucket1")
    stub = _stubbed(dest)
    uploads = [
        {"Key": "_staging/a.staged", "UploadId": "1"},
        {"Key": "_staging/b.staged", "UploadId": "2"},
    ]
    stub.add_response("list_multipart_uploads", {"Uploads": uploads})
    stub.add_client_error("abort_multipart_upload", "NoSuchUpload", http_status_code=404)
    stub.add_response("abort_multipart_upload", {})
    with stub:
        assert dest.abort_uploads("_staging/") == 1
    stub.assert_no_pending_responses()


def test_other_errors_while_aborting_uploads_are_destination_errors() -> None:
    dest = S3Destination(bucket="bucket1")
    stub = _stubbed(dest)
    stub.add_client_error("list_multipart_uploads", "AccessDenied", http_status_code=403)
    with stub, pytest.raises(DestinationError, match="access denied"):
        dest.abort_uploads("_staging/")
