"""deploy/iam's policies rendered for a test, and a role that holds exactly them."""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import Mapping
from pathlib import Path

from tests.support.iam_server import ACCOUNT_ID, EnforcingMoto

DEPLOY_IAM = Path(__file__).resolve().parents[2] / "deploy" / "iam"
TASK_POLICY = "task-role-policy.json"
KMS_POLICY = "task-role-kms-policy.json"


def root_prefix(key_prefix: str) -> str:
    """A root's `*_PREFIX` value: its key prefix with the trailing slash, or "" (whole bucket).

    Without the slash, `card_payments_raw*` would also grant `card_payments_raw_old/...`.
    """
    key_prefix = key_prefix.strip("/")
    return f"{key_prefix}/" if key_prefix else ""


def render(name: str, values: Mapping[str, str]) -> str:
    """deploy/iam/NAME with its placeholders filled, as `envsubst` would; refuses a prefix
    value without its trailing slash."""
    for var, value in values.items():
        if var.endswith("_PREFIX") and value and not value.endswith("/"):
            raise ValueError(f"{var}={value!r}: a root's prefix ends with '/' (or is empty)")
    return string.Template((DEPLOY_IAM / name).read_text()).substitute(values)


def role_credentials(moto: EnforcingMoto, documents: Mapping[str, str]) -> dict[str, str]:
    """A new role holding exactly `documents` (managed policies by name), assumed through STS:
    the AWS_* variables a job started with that role sees."""
    iam = moto.client("iam")
    role = f"daily-synthetic-job-{uuid.uuid4().hex[:8]}"
    # The test's stand-in for ECS tasks / IRSA: the admin user may assume the role.
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/admin"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    for name, document in documents.items():
        arn = iam.create_policy(PolicyName=f"{role}-{name}", PolicyDocument=document)["Policy"][
            "Arn"
        ]
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assumed = moto.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{role}", RoleSessionName="daily-synthetic-job"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": assumed["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": assumed["SecretAccessKey"],
        "AWS_SESSION_TOKEN": assumed["SessionToken"],
    }
