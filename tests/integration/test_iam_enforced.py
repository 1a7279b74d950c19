"""The job image under IAM: a role holding exactly deploy/iam's policy, S3 deciding as AWS does.

The S3 server is moto's, in a child process on 127.0.0.1, with IAM enforced: moto checks the
signatures, keys, STS sessions and the role's attached policies, and every S3 request is
decided by AWS's mapping of operations to IAM actions and condition keys
(tests/support/iam_server.py). The job runs as the real image, with the role's temporary
credentials and nothing else. Every decision is logged, so each test also checks what was
actually asked: a denial that did not happen cannot pass as one that did.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraud_detection.errors import DestinationError
from tests.support.iam_deploy import (
    FEATURES_POLICY,
    KMS_POLICY,
    TASK_POLICY,
    policy_values,
    render,
    role_credentials,
)
from tests.support.iam_server import EnforcingMoto, enforcing_moto
from tests.support.job import JobRunner

pytestmark = pytest.mark.integration

DAY = "2025-06-12"
POP = ["--customers", "20000", "--merchants", "2000"]
# Above the job's 16 MiB multipart threshold (about 50 bytes a row): the upload has parts.
MULTIPART_ROWS = 1_000_000
PAYMENTS, LABELS = "card_payments_raw", "fraud_reports"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0b5e1a9c-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def iam_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnforcingMoto]:
    with enforcing_moto(tmp_path_factory.mktemp("iam") / "decisions.jsonl") as server:
        yield server


@pytest.fixture
def iam_job(
    docker_client: Any, images: tuple[str, str], iam_moto: EnforcingMoto
) -> Iterator[JobRunner]:
    runner = JobRunner(docker_client, images[0], iam_moto.endpoint)
    yield runner
    runner.remove_all()


def new_bucket(moto: EnforcingMoto, *, kms_key: str | None = None) -> str:
    name = f"iam-{uuid.uuid4().hex[:12]}"
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=name)
    if kms_key:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": kms_key,
                        }
                    }
                ]
            },
        )
    return name


def keys(moto: EnforcingMoto, bucket: str, prefix: str = "") -> list[str]:
    pages = (
        moto.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def decisions_for(moto: EnforcingMoto, env: dict[str, str]) -> list[dict[str, Any]]:
    """The decisions made for the role session of `env` (the job's, not the test's)."""
    sts = moto.client(
        "sts",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
    session = sts.get_caller_identity()["Arn"]
    return [r for r in moto.records() if r["principal"] == session]


def checked(records: list[dict[str, Any]]) -> set[str]:
    return {action for r in records for action, _, _ in r["checked"]}


def test_a_day_with_both_datasets_publishes_under_exactly_the_shipped_policy(
    iam_moto: EnforcingMoto, iam_job: JobRunner
) -> None:
    bucket = new_bucket(iam_moto)
    values = policy_values(f"s3://{bucket}/{PAYMENTS}", f"s3://{bucket}/{LABELS}")
    env = role_credentials(iam_moto, {"s3": render(TASK_POLICY, values)})
    run = iam_job.run(
        ["--date", DAY, "--rows", str(MULTIPART_ROWS), *POP,
         "--dest", f"s3://{bucket}/{PAYMENTS}", "--labels-dest", f"s3://{bucket}/{LABELS}"],
        env=env,
    )  # fmt: skip
    run.assert_ok()
    manifest = run.manifest
    assert manifest["rows"] == MULTIPART_ROWS
    payments = keys(iam_moto, bucket, f"{PAYMENTS}/")
    labels = keys(iam_moto, bucket, f"{LABELS}/")
    assert sorted([*manifest["keys"], manifest["manifest_key"]]) == [
        k for k in payments if "/year=" in k or "/_manifests/" in k
    ]
    assert any(k.endswith(".parquet") for k in labels), labels
    assert keys(iam_moto, bucket) == sorted(payments + labels), "an object outside both roots"
    # No lease, staging object or unfinished upload left behind.
    assert not [k for k in payments + labels if "/_leases/" in k or "/_staging/" in k]
    assert not iam_moto.client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads")

    job = decisions_for(iam_moto, env)
    assert job and {r["decision"] for r in job} == {"allow"}
    # What AWS would have checked: the preflight listing with the root's prefix, multipart
    # parts, conditional lease writes, reads, deletes and aborts, all under the roots.
    assert {"s3:ListBucket", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"} <= checked(job)
    assert any("partNumber=" in r["query"] for r in job), "no multipart part was uploaded"
    assert any(
        r["method"] == "GET" and r["checked"][0][2].get("s3:prefix") == [f"{PAYMENTS}/"]
        for r in job
    ), "the preflight did not list the payments root"


def test_whole_bucket_payments_sliced_and_labels_in_another_bucket(
    iam_moto: EnforcingMoto, iam_job: JobRunner
) -> None:
    """The DAG's layout (RAW_BUCKET, no prefix), two slices and a finalize, labels elsewhere."""
    raw, other = new_bucket(iam_moto), new_bucket(iam_moto)
    values = policy_values(f"s3://{raw}", f"s3://{other}/{LABELS}")
    env = {
        **role_credentials(iam_moto, {"s3": render(TASK_POLICY, values)}),
        "RAW_BUCKET": raw,
        "DAILY_SYNTHETIC_LABELS_DEST": f"s3://{other}/{LABELS}",
    }
    base = ["--date", DAY, "--rows", "40000", *POP]
    for args in (["--shard", "0/2"], ["--shard", "1/2"], ["--finalize", "--shards", "2"]):
        iam_job.run([*base, *args], env=env).assert_ok()
    assert any("_manifests/" in k for k in keys(iam_moto, raw))
    assert keys(iam_moto, other) and all(k.startswith(f"{LABELS}/") for k in keys(iam_moto, other))
    job = decisions_for(iam_moto, env)
    assert job and {r["decision"] for r in job} == {"allow"}


@pytest.mark.parametrize(
    ("where", "expected_in_line"),
    [
        ({"dest": "s3://{bucket}/card_payments_raw_old"}, "card_payments_raw_old/"),  # a sibling
        ({"dest": "s3://{other}/card_payments_raw"}, "s3://{other}/card_payments_raw/"),
        ({"labels": "s3://{other}/fraud_reports"}, "s3://{other}/fraud_reports/"),
    ],
    ids=["sibling-prefix", "other-bucket", "labels-in-other-bucket"],
)
def test_outside_the_roots_is_denied_in_one_line(
    iam_moto: EnforcingMoto, iam_job: JobRunner, where: dict[str, str], expected_in_line: str
) -> None:
    bucket, other = new_bucket(iam_moto), new_bucket(iam_moto)
    iam_moto.client("s3").put_object(Bucket=other, Key="card_payments_raw/keep", Body=b"x")
    values = policy_values(f"s3://{bucket}/{PAYMENTS}", f"s3://{bucket}/{LABELS}")
    env = role_credentials(iam_moto, {"s3": render(TASK_POLICY, values)})
    fill = {"bucket": bucket, "other": other}
    dest = where.get("dest", f"s3://{bucket}/{PAYMENTS}").format(**fill)
    labels = where.get("labels", f"s3://{bucket}/{LABELS}").format(**fill)
    run = iam_job.run(
        ["--date", DAY, "--rows", "5000", *POP, "--dest", dest, "--labels-dest", labels], env=env
    )
    line = run.assert_one_line_error()
    assert run.exit_code == DestinationError.exit_code, run.stderr
    assert "access denied" in line and expected_in_line.format(**fill) in line, line
    assert keys(iam_moto, other) == ["card_payments_raw/keep"]  # nothing written there
    if "labels" in where:
        # The labels root is checked when the labels are published, after the payments.
        assert all(k.startswith(f"{PAYMENTS}/year=") for k in keys(iam_moto, bucket))
    else:
        assert keys(iam_moto, bucket) == []  # refused before anything was written
    denied = [r for r in decisions_for(iam_moto, env) if r["decision"] != "allow"]
    assert denied and denied[0]["checked"][0][0] == "s3:ListBucket"


def test_a_denied_write_or_read_is_one_destination_error(
    iam_moto: EnforcingMoto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the preflight: the sink's own calls, refused, become one line each."""
    from fraud_detection.sinks.s3 import S3Destination

    bucket, other = new_bucket(iam_moto), new_bucket(iam_moto)
    iam_moto.client("s3").put_object(Bucket=other, Key=f"{PAYMENTS}/x.json", Body=b"{}")
    values = policy_values(f"s3://{bucket}/{PAYMENTS}", f"s3://{bucket}/{LABELS}")
    for name, value in role_credentials(iam_moto, {"s3": render(TASK_POLICY, values)}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", iam_moto.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    inside = S3Destination(bucket, PAYMENTS)
    inside.put_text(f"{PAYMENTS}/ok.json", "{}", "application/json")
    with pytest.raises(DestinationError) as write:
        inside.put_text("elsewhere/x.json", "{}", "application/json")
    with pytest.raises(DestinationError) as read:
        S3Destination(other, PAYMENTS).get_text(f"{PAYMENTS}/x.json")
    for err, what in ((write, f"write s3://{bucket}/elsewhere/x.json"),
                      (read, f"read s3://{other}/{PAYMENTS}/x.json")):  # fmt: skip
        message = str(err.value)
        assert "\n" not in message and message.startswith("access denied") and what in message


def test_sse_kms_needs_the_kms_policy(iam_moto: EnforcingMoto, iam_job: JobRunner) -> None:
    """A bucket whose default encryption is SSE-KMS: the S3 policy alone is refused at the
    first write; with the KMS policy beside it the day publishes."""
    bucket = new_bucket(iam_moto, kms_key=KMS_KEY)
    values = policy_values(f"s3://{bucket}/{PAYMENTS}", f"s3://{bucket}/{LABELS}", KMS_KEY)
    args = ["--date", DAY, "--rows", "20000", *POP, "--dest", f"s3://{bucket}/{PAYMENTS}",
            "--labels-dest", f"s3://{bucket}/{LABELS}"]  # fmt: skip

    s3_only = role_credentials(iam_moto, {"s3": render(TASK_POLICY, values)})
    refused = iam_job.run(args, env=s3_only)
    line = refused.assert_one_line_error()
    assert refused.exit_code == DestinationError.exit_code and "access denied" in line, line
    denied = [r for r in decisions_for(iam_moto, s3_only) if r["decision"] != "allow"]
    assert denied and "kms:GenerateDataKey" in denied[0]["reason"]
    assert not [k for k in keys(iam_moto, bucket) if "/year=" in k]

    both = role_credentials(
        iam_moto, {"s3": render(TASK_POLICY, values), "kms": render(KMS_POLICY, values)}
    )
    iam_job.run(args, env=both).assert_ok()
    job = decisions_for(iam_moto, both)
    assert {r["decision"] for r in job} == {"allow"}
    assert {"kms:GenerateDataKey", "kms:Decrypt"} <= checked(job)


def test_features_publish_to_their_own_bucket_reading_the_payments_only(
    iam_moto: EnforcingMoto, iam_job: JobRunner
) -> None:
    """The DAG's layout: payments in a whole bucket, the features in a bucket of their own,
    payment-features as a role that may only read the payments."""
    raw, features = new_bucket(iam_moto), new_bucket(iam_moto)
    job_env = {
        **role_credentials(iam_moto, {"s3": render(TASK_POLICY, policy_values(f"s3://{raw}"))}),
        "RAW_BUCKET": raw,
    }
    iam_job.run(["--date", DAY, "--rows", "20000", *POP], env=job_env).assert_ok()
    raw_keys = keys(iam_moto, raw)

    values = policy_values(f"s3://{raw}", features=f"s3://{features}")
    env = {
        **role_credentials(iam_moto, {"s3": render(FEATURES_POLICY, values)}),
        "RAW_BUCKET": raw,
        "FEATURES_BUCKET": features,
    }
    run = iam_job.run(["--date", DAY, "-q"], env=env, entrypoint=["payment-features"])
    run.assert_ok()
    assert run.manifest["root"] == f"s3://{features}" and run.manifest["rows"] == 20000
    assert any(k.startswith("_delta_log/") for k in keys(iam_moto, features))
    assert keys(iam_moto, raw) == raw_keys  # the payments' bucket is as the job left it
    job = decisions_for(iam_moto, env)
    assert job and {r["decision"] for r in job} == {"allow"}
    on_raw = [r for r in job if r["checked"][0][1].startswith(f"arn:aws:s3:::{raw}")]
    assert on_raw and {r["method"] for r in on_raw} <= {"GET", "HEAD"}  # reads only

    # The role cannot write beside the payments, whatever --dest says.
    refused = iam_job.run(
        ["--date", DAY, "-q", "--source", f"s3://{raw}/", "--dest", f"s3://{features}2"],
        env=env, entrypoint=["payment-features"],
    )  # fmt: skip
    line = refused.stderr_lines[-1]
    assert refused.exit_code == DestinationError.exit_code, refused.stderr
    assert line.startswith("payment-features: error: access denied"), refused.stderr
    assert f"s3://{features}2/" in line and "Traceback" not in refused.stderr


def test_the_decision_log_is_the_servers(tmp_path: Path) -> None:
    """The log the tests read is written by the server's hook, one line per S3 request."""
    with enforcing_moto(tmp_path / "d.jsonl") as server:
        name = new_bucket(server)
        server.client("s3").head_bucket(Bucket=name)
        (create, head) = server.records()
    assert (create["checked"][0][0], head["checked"]) == (
        "s3:CreateBucket",
        [["s3:ListBucket", f"arn:aws:s3:::{name}", {}]],
    )
