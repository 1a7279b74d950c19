"""deploy/iam's policies under AWS's evaluation rules, and the evaluator those rules live in.

The evaluator (tests/support/iam_policy.py) and the S3 mapping (tests/support/iam_s3.py) are
what the integration test's moto server decides with; here they are checked on known cases,
then the shipped policy is checked request by request against what the job does, and the
policy shipped before issue 19 against the same requests (it fails the preflight).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fraud_detection.sinks.layout import DayLayout
from tests.support.iam_deploy import (
    DEPLOY_IAM,
    FEATURES_POLICY,
    KMS_POLICY,
    RENDER,
    TASK_POLICY,
    render,
)
from tests.support.iam_policy import Policy, Request, UnsupportedPolicy, decide, decide_all
from tests.support.iam_s3 import S3Call, authorisations

ROOT = Path(__file__).resolve().parents[2]
BUCKET, LABELS_BUCKET, OTHER = "raw-bucket", "labels-bucket", "someone-elses-bucket"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VALUES = {
    "RAW_BUCKET": BUCKET,
    "RAW_PREFIX": "card_payments_raw/",
    "LABELS_BUCKET": BUCKET,
    "LABELS_PREFIX": "fraud_reports/",
    "KMS_KEY_ARN": KMS_KEY,
    "AWS_REGION": "us-east-1",
}
# The task-role policy as shipped before issue 19, rendered with the placeholders its docs gave.
OLD_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{BUCKET}",
            "Condition": {"StringLike": {"s3:prefix": ["card_payments_raw/*"]}},
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucketMultipartUploads"],
            "Resource": f"arn:aws:s3:::{BUCKET}",
        },
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": f"arn:aws:s3:::{BUCKET}/card_payments_raw/*",
        },
    ],
}
AUTH = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20250612/us-east-1/s3/aws4_request, Signature=x"


def call(method: str, path: str, query: str = "", body: bytes = b"", **headers: str) -> S3Call:
    named = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    return S3Call(method, path, query, {"authorization": AUTH, **named}, body)


def allowed(policies: list[Policy], c: S3Call, *, missing: bool = False, **kms: str) -> bool:
    """`missing`: the object read is not there (AWS then also checks the listing grant)."""
    lookup = (lambda bucket, key: kms.get("key")) if kms else None
    needed = authorisations(c, lookup, lambda bucket, key: not missing)
    return decide_all(policies, needed)[0] == "allow"


def shipped(**overrides: str) -> list[Policy]:
    return [Policy.parse(render(TASK_POLICY, {**VALUES, **overrides}))]


# --- the evaluator -------------------------------------------------------------------------


def _policy(*statements: dict[str, Any]) -> Policy:
    return Policy.parse({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_PUT = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/p/*"}


def test_wildcards_match_iam_style() -> None:
    policy = [_policy(ALLOW_PUT)]
    assert decide(policy, Request("s3:PutObject", "arn:aws:s3:::b/p/")) == "allow"  # * is empty
    assert decide(policy, Request("S3:putobject", "arn:aws:s3:::b/p/x/y")) == "allow"
    assert decide(policy, Request("s3:PutObject", "arn:aws:s3:::b/px/y")) == "implicit-deny"
    assert decide(policy, Request("s3:PutObjectAcl", "arn:aws:s3:::b/p/x")) == "implicit-deny"
    one = [_policy({**ALLOW_PUT, "Resource": "arn:aws:s3:::b/p?"})]
    assert decide(one, Request("s3:PutObject", "arn:aws:s3:::b/p1")) == "allow"
    assert decide(one, Request("s3:PutObject", "arn:aws:s3:::b/p12")) == "implicit-deny"
    dots = [_policy({**ALLOW_PUT, "Resource": "arn:aws:s3:::b/a.c"})]
    assert decide(dots, Request("s3:PutObject", "arn:aws:s3:::b/abc")) == "implicit-deny"


def test_an_explicit_deny_wins_and_nothing_allows_by_default() -> None:
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/p/secret*"}
    policies = [_policy(ALLOW_PUT), _policy(deny)]
    assert decide(policies, Request("s3:PutObject", "arn:aws:s3:::b/p/x")) == "allow"
    assert decide(policies, Request("s3:PutObject", "arn:aws:s3:::b/p/secret")) == "explicit-deny"
    assert decide([], Request("s3:PutObject", "arn:aws:s3:::b/p/x")) == "implicit-deny"


def test_not_action_and_not_resource() -> None:
    policy = [
        _policy({"Effect": "Allow", "NotAction": "s3:Delete*", "NotResource": "arn:aws:s3:::b/x"})
    ]
    assert decide(policy, Request("s3:GetObject", "arn:aws:s3:::b/y")) == "allow"
    assert decide(policy, Request("s3:DeleteObject", "arn:aws:s3:::b/y")) == "implicit-deny"
    assert decide(policy, Request("s3:GetObject", "arn:aws:s3:::b/x")) == "implicit-deny"


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringLike": {"s3:prefix": "p/*"}}, {"s3:prefix": ["p/x"]}, True),
        ({"StringLike": {"s3:prefix": "p/*"}}, {"s3:prefix": ["q/x"]}, False),
        # A key the request does not carry: positive operators fail (the HeadBucket trap) ...
        ({"StringLike": {"s3:prefix": "*"}}, {}, False),
        ({"StringEquals": {"s3:prefix": ""}}, {}, False),
        # ... negated ones and IfExists pass, Null tests presence.
        ({"StringNotLike": {"s3:prefix": "secret/*"}}, {}, True),
        ({"StringLikeIfExists": {"s3:prefix": "p/*"}}, {}, True),
        ({"StringLikeIfExists": {"s3:prefix": "p/*"}}, {"s3:prefix": ["q/"]}, False),
        ({"Null": {"s3:prefix": "true"}}, {}, True),
        ({"Null": {"s3:prefix": "false"}}, {}, False),
        # Several values of one key are ORed; several keys are ANDed.
        ({"StringLike": {"s3:prefix": ["a/*", "b/*"]}}, {"s3:prefix": ["b/1"]}, True),
        (
            {"StringEquals": {"s3:prefix": "a/", "s3:delimiter": "/"}},
            {"s3:prefix": ["a/"]},
            False,
        ),
        ({"StringEqualsIgnoreCase": {"s3:prefix": "A/"}}, {"s3:prefix": ["a/"]}, True),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:*"}},
            {"aws:sourcearn": ["arn:aws:ecs:x"]},
            True,
        ),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:securetransport": ["true"]}, False),
        ({"ForAllValues:StringLike": {"k": ["a*"]}}, {"k": ["ab", "ac"]}, True),
        ({"ForAllValues:StringLike": {"k": ["a*"]}}, {"k": ["ab", "bc"]}, False),
        ({"ForAnyValue:StringLike": {"k": ["a*"]}}, {"k": ["bb", "ac"]}, True),
    ],
)
def test_conditions(
    condition: dict[str, Any], context: dict[str, list[str]], expected: bool
) -> None:
    policy = [_policy({**ALLOW_PUT, "Resource": "*", "Condition": condition})]
    decision = decide(policy, Request("s3:PutObject", "arn:aws:s3:::b/k", context))
    assert (decision == "allow") is expected


@pytest.mark.parametrize(
    "statement",
    [
        {**ALLOW_PUT, "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}},
        {**ALLOW_PUT, "Resource": "arn:aws:s3:::${RAW_BUCKET}/*"},
        {**ALLOW_PUT, "Principal": "*"},
        {"Effect": "Allow", "Action": "s3:PutObject"},
    ],
)
def test_what_it_does_not_implement_is_refused(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicy):
        decide(
            [_policy(statement)],
            Request("s3:PutObject", "arn:aws:s3:::b/k", {"s3:max-keys": ["1"]}),
        )


# --- the S3 mapping ------------------------------------------------------------------------


def needed(c: S3Call) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r.action, r.resource, dict(r.context)) for r in authorisations(c)]


def test_bucket_level_requests() -> None:
    assert needed(call("HEAD", "/b1")) == [("s3:ListBucket", "arn:aws:s3:::b1", {})]
    assert needed(call("GET", "/b1", "list-type=2&prefix=p%2F&max-keys=1")) == [
        ("s3:ListBucket", "arn:aws:s3:::b1", {"s3:prefix": ["p/"], "s3:max-keys": ["1"]})
    ]
    assert needed(call("GET", "/b1", "uploads&prefix=p%2F")) == [
        ("s3:ListBucketMultipartUploads", "arn:aws:s3:::b1", {})
    ]
    body = b"<Delete><Object><Key>p/a</Key></Object><Object><Key>q/b</Key></Object></Delete>"
    assert needed(call("POST", "/b1", "delete", body)) == [
        ("s3:DeleteObject", "arn:aws:s3:::b1/p/a", {}),
        ("s3:DeleteObject", "arn:aws:s3:::b1/q/b", {}),
    ]


def test_object_level_requests() -> None:
    obj = "arn:aws:s3:::b1/p/year%3D2025/k"
    assert needed(call("GET", "/b1/p/k")) == [("s3:GetObject", "arn:aws:s3:::b1/p/k", {})]
    assert needed(call("HEAD", "/b1/p/k"))[0][0] == "s3:GetObject"
    assert needed(call("PUT", "/b1/p/year%253D2025/k"))[0][1] == obj
    assert needed(call("PUT", "/b1/p/year%3D2025/k"))[0][1] == "arn:aws:s3:::b1/p/year=2025/k"
    for method, query in [("POST", "uploads"), ("PUT", "partNumber=1&uploadId=u"),
                          ("POST", "uploadId=u")]:  # fmt: skip
        assert needed(call(method, "/b1/p/k", query)) == [
            ("s3:PutObject", "arn:aws:s3:::b1/p/k", {})
        ]
    assert needed(call("PUT", "/b1/p/k", x_amz_copy_source="/b2/q/s%3D1?versionId=3")) == [
        ("s3:GetObject", "arn:aws:s3:::b2/q/s=1", {}),
        ("s3:PutObject", "arn:aws:s3:::b1/p/k", {}),
    ]
    assert needed(call("DELETE", "/b1/p/k", "uploadId=u"))[0][0] == "s3:AbortMultipartUpload"
    assert needed(call("GET", "/b1/p/k", "uploadId=u"))[0][0] == "s3:ListMultipartUploadParts"
    assert needed(call("DELETE", "/b1/p/k"))[0][0] == "s3:DeleteObject"
    assert needed(call("PUT", "/b1/p/k", "x-id=PutObject"))[0][0] == "s3:PutObject"
    assert needed(call("PUT", "/b1/p/k", "tagging"))[0][0].startswith("s3:Unmapped")


def test_a_missing_object_is_a_404_only_to_who_may_list_it() -> None:
    absent = authorisations(call("HEAD", "/b1/p/_leases/d.json"), None, lambda b, k: False)
    assert [(r.action, dict(r.context)) for r in absent] == [
        ("s3:GetObject", {}),
        ("s3:ListBucket", {"s3:prefix": ["p/_leases/d.json"]}),
    ]
    there = authorisations(call("GET", "/b1/p/k"), None, lambda b, k: True)
    assert [r.action for r in there] == ["s3:GetObject"]
    # Multipart steps are not reads of the object.
    part = authorisations(call("GET", "/b1/p/k", "uploadId=u"), None, lambda b, k: False)
    assert [r.action for r in part] == ["s3:ListMultipartUploadParts"]


def test_sse_kms_asks_kms_through_s3() -> None:
    via = {"kms:viaservice": ["s3.us-east-1.amazonaws.com"]}

    def kms_needed(c: S3Call) -> list[tuple[str, str]]:
        got = authorisations(c, lambda bucket, key: KMS_KEY)
        assert all(dict(r.context) == via for r in got if r.action.startswith("kms:"))
        return [(r.action, r.resource) for r in got if r.action.startswith("kms:")]

    assert kms_needed(call("PUT", "/b1/p/k")) == [("kms:GenerateDataKey", KMS_KEY)]
    assert kms_needed(call("POST", "/b1/p/k", "uploads")) == [
        ("kms:GenerateDataKey", KMS_KEY),
        ("kms:Decrypt", KMS_KEY),
    ]
    assert kms_needed(call("GET", "/b1/p/k")) == [("kms:Decrypt", KMS_KEY)]
    assert kms_needed(call("HEAD", "/b1/p/k")) == []
    assert kms_needed(call("DELETE", "/b1/p/k")) == []
    copied = kms_needed(call("PUT", "/b1/p/k", x_amz_copy_source="/b1/p/s"))
    assert copied == [("kms:GenerateDataKey", KMS_KEY), ("kms:Decrypt", KMS_KEY)]


# --- the shipped policy against what the job does ------------------------------------------


def job_calls(bucket: str, prefix: str) -> list[S3Call]:
    """Every kind of S3 request the job makes for one root (sinks/s3.py, publish, lease, the
    Delta Lake log: put-if-absent, read, list, delete)."""
    day = DayLayout(prefix.rstrip("/"), date(2025, 6, 12))
    root = f"/{bucket}/{prefix}"
    staged, part = (
        f"/{bucket}/{day.staged_key(0, 1)}",
        f"/{bucket}/{day.part_key(0, 1, '0123abcd')}",
    )
    delta_log = f"{root}_delta_log/00000000000000000001.json"
    deleted = f"<Delete><Object><Key>{day.staged_key(0, 1)}</Key></Object></Delete>".encode()
    return [
        call("GET", f"/{bucket}", f"list-type=2&prefix={prefix}&max-keys=1"),  # the preflight
        call("GET", f"/{bucket}", f"list-type=2&prefix={day.partition}"),
        call("GET", f"/{bucket}", f"list-type=2&prefix={prefix}_delta_log/&start-after=x"),
        call("GET", f"/{bucket}", f"uploads&prefix={day.staging}"),
        call("PUT", f"/{bucket}/{day.lease_key}", if_none_match="*"),
        call("GET", f"/{bucket}/{day.lease_key}"),
        call("PUT", f"/{bucket}/{day.lease_key}", if_match='"e"'),
        call("DELETE", f"/{bucket}/{day.lease_key}", if_match='"e"'),
        call("POST", staged, "uploads"),
        call("PUT", staged, "partNumber=2&uploadId=u"),
        call("POST", staged, "uploadId=u"),
        call("DELETE", staged, "uploadId=u"),
        call("HEAD", staged),
        call("PUT", part, x_amz_copy_source=staged),
        call("PUT", f"/{bucket}/{day.manifest_key}"),
        call("POST", f"/{bucket}", "delete", deleted),
        call("PUT", delta_log, if_none_match="*"),
        call("GET", delta_log),
    ]


@pytest.mark.parametrize(
    ("bucket", "prefix"),
    [(BUCKET, "card_payments_raw/"), (BUCKET, "fraud_reports/"), (LABELS_BUCKET, "")],
)
def test_the_shipped_policy_allows_everything_the_job_does(bucket: str, prefix: str) -> None:
    if bucket == LABELS_BUCKET:  # labels in a bucket of their own, at its root
        policies = shipped(LABELS_BUCKET=LABELS_BUCKET, LABELS_PREFIX="")
    else:
        policies = shipped()
    for c in job_calls(bucket, prefix):
        assert allowed(policies, c), (c, decide_all(policies, authorisations(c)))


def test_absent_lease_and_manifest_read_as_absent_not_as_refused() -> None:
    """The job reads the lease and the old manifest before they exist: AWS answers 404 only
    because the listing grant covers the root; without it the job would stop at exit 3."""
    lease = call("GET", f"/{BUCKET}/card_payments_raw/_leases/2025-06-12.json")
    manifest = call("HEAD", f"/{BUCKET}/fraud_reports/year=2025/month=06/day=12/_manifest.json")
    for c in (lease, manifest):
        assert allowed(shipped(), c, missing=True)
    no_listing = Policy.parse(
        {
            "Version": "2012-10-17",
            "Statement": [
                s for s in json.loads(render(TASK_POLICY, VALUES))["Statement"]
                if s["Action"] != "s3:ListBucket"
            ],
        }
    )  # fmt: skip
    assert allowed([no_listing], lease) and not allowed([no_listing], lease, missing=True)


@pytest.mark.parametrize(
    "c",
    [
        call("HEAD", f"/{BUCKET}"),  # HeadBucket: no s3:prefix, so no listing grant applies
        call("GET", f"/{BUCKET}", "list-type=2"),
        call("GET", f"/{BUCKET}", "list-type=2&prefix="),
        call("GET", f"/{BUCKET}", "list-type=2&prefix=card_payments_raw"),  # no slash
        call("GET", f"/{BUCKET}", "list-type=2&prefix=card_payments_raw_old/"),
        call("PUT", f"/{BUCKET}/card_payments_raw_old/x.parquet"),  # a sibling prefix
        call("PUT", f"/{BUCKET}/other/card_payments_raw/x"),
        call("GET", f"/{OTHER}/card_payments_raw/x"),
        call("GET", f"/{OTHER}", "list-type=2&prefix=card_payments_raw/"),
        call("PUT", f"/{BUCKET}/card_payments_raw/x", x_amz_copy_source=f"/{OTHER}/x"),
        call(
            "POST",
            f"/{BUCKET}",
            "delete",
            b"<Delete><Object><Key>card_payments_raw/a</Key></Object>"
            b"<Object><Key>outside/b</Key></Object></Delete>",
        ),
        call("GET", f"/{BUCKET}/card_payments_raw/x", "uploadId=u"),  # ListParts: unused
        call("PUT", f"/{BUCKET}/card_payments_raw/x", "acl"),
        call("PUT", f"/{BUCKET}"),
        call("GET", "/"),
    ],
)
def test_the_shipped_policy_refuses_the_rest(c: S3Call) -> None:
    assert not allowed(shipped(), c)


FEATURES_BUCKET = "features-bucket"


def features_role(**overrides: str) -> list[Policy]:
    values = {**VALUES, "FEATURES_BUCKET": FEATURES_BUCKET, "FEATURES_PREFIX": "", **overrides}
    return [Policy.parse(render(FEATURES_POLICY, values))]


@pytest.mark.parametrize("prefix", ["", "card_payments_features/"])
def test_the_features_role_publishes_its_own_root(prefix: str) -> None:
    """payment-features publishes its table as the job publishes a day: every such request is
    allowed under the features' root, whole bucket or prefix."""
    policies = features_role(FEATURES_PREFIX=prefix)
    for c in job_calls(FEATURES_BUCKET, prefix):
        assert allowed(policies, c), (c, decide_all(policies, authorisations(c)))


def test_the_features_role_only_reads_the_payments() -> None:
    raw = f"/{BUCKET}/card_payments_raw"
    policies = features_role()
    for c in (
        call("GET", f"/{BUCKET}", "list-type=2&prefix=card_payments_raw/_manifests/"),
        call("GET", f"{raw}/_manifests/2025-06-12.json"),
        call("GET", f"{raw}/year=2025/month=6/day=12/part-r-00000-of-00001.parquet"),
    ):
        assert allowed(policies, c), c
    assert allowed(policies, call("GET", f"{raw}/_manifests/2025-06-01.json"), missing=True)
    for c in (
        call("PUT", f"{raw}/year=2025/month=6/day=12/x.parquet"),
        call("PUT", f"{raw}/features/year=2025/month=6/day=12/x.parquet"),
        call("PUT", f"{raw}/_delta_log/00000000000000000001.json", if_none_match="*"),
        call("DELETE", f"{raw}/year=2025/month=6/day=12/x.parquet"),
        call("POST", f"{raw}/x", "uploads"),
        call("GET", f"/{BUCKET}", "uploads&prefix=card_payments_raw/"),
        call("GET", f"/{BUCKET}/fraud_reports/x.parquet"),  # the labels: not its input
    ):
        assert not allowed(policies, c), c


def test_the_old_policy_fails_the_job() -> None:
    """What the policy shipped before issue 19 did under AWS's rules."""
    old = [Policy.parse(OLD_POLICY)]
    # The old preflight (HeadBucket) was refused: exit 3 on the first real run.
    assert not allowed(old, call("HEAD", f"/{BUCKET}"))
    # The labels feed's root was not covered at all.
    assert not allowed(old, call("PUT", f"/{BUCKET}/fraud_reports/year=2025/x.parquet"))
    assert not allowed(old, call("GET", f"/{BUCKET}", "list-type=2&prefix=fraud_reports/"))
    # With the prefix given without its slash, siblings were granted.
    sloppy = json.loads(json.dumps(OLD_POLICY).replace("card_payments_raw/*", "card_payments_raw*"))
    assert allowed([Policy.parse(sloppy)], call("PUT", f"/{BUCKET}/card_payments_raw_old/x"))
    # What the new preflight sends, it did allow.
    assert allowed(old, call("GET", f"/{BUCKET}", "list-type=2&prefix=card_payments_raw%2F"))


def test_the_renderer_derives_prefixes_with_their_slash_from_the_jobs_uris() -> None:
    assert RENDER.root("s3://b/card_payments_raw") == ("b", "card_payments_raw/")
    assert RENDER.root("s3://b/a/b/") == ("b", "a/b/")
    assert RENDER.root("s3://b") == ("b", "")
    with pytest.raises(ValueError, match="not an s3://"):
        RENDER.root("/data/raw")
    assert RENDER.values("s3://raw", None) == {
        "RAW_BUCKET": "raw", "RAW_PREFIX": "", "LABELS_BUCKET": "raw", "LABELS_PREFIX": "",
    }  # fmt: skip
    with pytest.raises(ValueError, match="ends with '/'"):
        render(TASK_POLICY, {**VALUES, "RAW_PREFIX": "card_payments_raw"})
    with pytest.raises(ValueError, match="needs a value for KMS_KEY_ARN"):
        render(KMS_POLICY, {"AWS_REGION": "us-east-1"})
    for statement in json.loads(render(TASK_POLICY, VALUES))["Statement"]:
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            assert resource.endswith("/*") or "/" not in resource.removeprefix("arn:aws:s3:::")


def test_the_renderer_as_operators_run_it() -> None:
    args = [
        "--payments",
        f"s3://{BUCKET}/card_payments_raw",
        "--labels",
        f"s3://{BUCKET}/fraud_reports",
    ]
    done = subprocess.run(
        [sys.executable, str(DEPLOY_IAM / "render.py"), TASK_POLICY, *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(render(TASK_POLICY, VALUES))
    bad = subprocess.run(
        [sys.executable, str(DEPLOY_IAM / "render.py"), KMS_POLICY], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.startswith("render.py: error:"), bad.stderr


def test_the_kms_policy_lets_s3_use_the_key_and_nothing_else() -> None:
    both = [*shipped(), Policy.parse(render(KMS_POLICY, VALUES))]
    put = call("PUT", f"/{BUCKET}/card_payments_raw/x")
    multipart = call("POST", f"/{BUCKET}/card_payments_raw/x", "uploads")
    get = call("GET", f"/{BUCKET}/card_payments_raw/x")
    for c in (put, multipart, get):
        assert allowed(both, c, key=KMS_KEY)
        assert not allowed(shipped(), c, key=KMS_KEY)  # without it, SSE-KMS writes fail
        assert not allowed(both, c, key=KMS_KEY.replace("1234abcd", "99999999"))
    direct = Request("kms:Decrypt", KMS_KEY)  # the role calling KMS itself, not through S3
    assert decide(both, direct) == "implicit-deny"


def test_ecs_logs_go_to_a_group_the_deployment_creates() -> None:
    """The execution role has AmazonECSTaskExecutionRolePolicy only (no logs:CreateLogGroup),
    so the task definition must not ask awslogs to create its group."""
    task = json.loads((ROOT / "deploy/ecs/task-definition.json").read_text())
    (container,) = task["containerDefinitions"]
    assert "awslogs-create-group" not in container["logConfiguration"]["options"]
