"""Fill in a policy of deploy/iam from the job's own destination URIs (standard library only).

    python3 deploy/iam/render.py task-role-policy.json \\
        --payments s3://raw-bucket [--labels s3://labels-bucket/fraud_reports]
    python3 deploy/iam/render.py features-task-role-policy.json \\
        --payments s3://raw-bucket --features s3://features-bucket
    python3 deploy/iam/render.py task-role-kms-policy.json --kms-key-arn ARN --region REGION

It prints the policy. Give the same URIs as the job's --dest and --labels-dest (or
s3://$RAW_BUCKET) and payment-features' --dest (or s3://$FEATURES_BUCKET): the `*_PREFIX`
values are derived from them, with the trailing slash that keeps `prefix/*` from also
granting sibling prefixes. Without --labels, the labels statements repeat the payments root
(no extra access).
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def root(uri: str) -> tuple[str, str]:
    """s3://BUCKET[/PREFIX] -> (BUCKET, "PREFIX/" or "")."""
    scheme, sep, rest = uri.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme not in ("s3", "s3a") or not sep or not bucket:
        raise ValueError(f"{uri!r} is not an s3://BUCKET[/PREFIX] URI")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def values(
    payments: str | None = None,
    labels: str | None = None,
    kms_key_arn: str | None = None,
    region: str | None = None,
    features: str | None = None,
) -> dict[str, str]:
    found: dict[str, str] = {}
    if payments:
        found["RAW_BUCKET"], found["RAW_PREFIX"] = root(payments)
        found["LABELS_BUCKET"], found["LABELS_PREFIX"] = root(labels or payments)
    if features:
        found["FEATURES_BUCKET"], found["FEATURES_PREFIX"] = root(features)
    if kms_key_arn:
        found["KMS_KEY_ARN"] = kms_key_arn
    if region:
        found["AWS_REGION"] = region
    return found


def render(name: str, filled: dict[str, str]) -> str:
    """deploy/iam/NAME with its placeholders filled; every one must be given, and a prefix
    value ends with '/' (or is empty)."""
    for var, value in filled.items():
        if var.endswith("_PREFIX") and value and not value.endswith("/"):
            raise ValueError(f"{var}={value!r}: a root's prefix ends with '/' (or is empty)")
    template = string.Template((HERE / name).read_text())
    try:
        text = template.substitute(filled)
    except KeyError as exc:
        raise ValueError(f"{name} needs a value for {exc.args[0]}") from None
    json.loads(text)  # still a JSON document
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="render.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("policy", help="a policy file of deploy/iam, e.g. task-role-policy.json")
    parser.add_argument("--payments", help="the payments root: s3://BUCKET[/PREFIX]")
    parser.add_argument("--labels", help="the labels root (default: the payments root)")
    parser.add_argument("--features", help="the features root: s3://BUCKET[/PREFIX]")
    parser.add_argument("--kms-key-arn", help="the bucket's SSE-KMS key (kms policy)")
    parser.add_argument("--region", help="the buckets' AWS region (kms policy)")
    args = parser.parse_args(argv)
    try:
        text = render(
            args.policy,
            values(args.payments, args.labels, args.kms_key_arn, args.region, args.features),
        )
    except (ValueError, OSError) as exc:
        print(f"render.py: error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    print(text, end="")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
