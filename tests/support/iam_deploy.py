"""deploy/iam's policies rendered for a test, and a role that holds exactly them."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from tests.support.iam_server import ACCOUNT_ID, EnforcingMoto

DEPLOY_IAM = Path(__file__).resolve().parents[2] / "deploy" / "iam"
TASK_POLICY = "task-role-policy.json"
KMS_POLICY = "task-role-kms-policy.json"
FEATURES_POLICY = "features-task-role-policy.json"  # payment-features' role


def _renderer() -> ModuleType:
    """deploy/iam/render.py, the operators' renderer (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("deploy_iam_render", DEPLOY_IAM / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RENDER = _renderer()


def render(name: str, values: Mapping[str, str]) -> str:
    text: str = RENDER.render(name, dict(values))
    return text


def policy_values(
    payments: str,
    labels: str | None = None,
    kms_key_arn: str = "",
    region: str = "us-east-1",
    features: str | None = None,
) -> dict[str, str]:
    """The placeholders for roots given as the job's URIs (s3://BUCKET[/PREFIX])."""
    found: dict[str, str] = RENDER.values(payments, labels, kms_key_arn or None, region, features)
    return found


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
