"""moto's server with IAM enforced and S3 requests decided as AWS decides them.

moto keeps the identities (users, roles, keys, STS sessions, SigV4 signatures) and the
storage. Its own S3 authorisation is replaced: moto takes an operation's name as the IAM
action (`s3:HeadBucket`) and ignores conditions, so a policy right for AWS could fail here
and a wrong one pass. The hook below asks `iam_s3.authorisations` what AWS checks for the
request and `iam_policy.decide_all` what the caller's policies say. Every decision is
appended as one JSON line to a file, so a test can see what was checked.

Runs as its own process (`python -m tests.support.iam_server`) because moto's enforcement
is process-wide state; `enforcing_moto()` starts it on a free loopback port and stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# The calls the server makes for itself before enforcement starts: create the admin user,
# its key and its policy (moto's INITIAL_NO_AUTH_ACTION_COUNT counts them).
SETUP_CALLS = 3
ROOT = Path(__file__).resolve().parents[2]


def _kms_key_in(config: Any) -> str | None:
    """The KMSMasterKeyID somewhere in a bucket's encryption configuration, if aws:kms."""
    if isinstance(config, dict):
        rule = config.get("ApplyServerSideEncryptionByDefault")
        if isinstance(rule, dict) and rule.get("SSEAlgorithm") == "aws:kms":
            return rule.get("KMSMasterKeyID") or None
        return next((k for v in config.values() if (k := _kms_key_in(v))), None)
    if isinstance(config, list):
        return next((k for v in config if (k := _kms_key_in(v))), None)
    return None


def _exists(account_id: str) -> Any:
    from moto.s3.models import s3_backends

    def exists(bucket_name: str, key: str) -> bool:
        bucket = s3_backends[account_id]["aws"].buckets.get(bucket_name)
        return bucket is not None and bucket.keys.get(key) is not None

    return exists


def _kms_lookup(account_id: str) -> Any:
    from moto.s3.models import s3_backends

    def lookup(bucket_name: str, key: str | None) -> str | None:
        bucket = s3_backends[account_id]["aws"].buckets.get(bucket_name)
        if bucket is None:
            return None
        if key is not None:
            stored = bucket.keys.get(key)
            if stored is not None and getattr(stored, "kms_key_id", None):
                return str(stored.kms_key_id)
        return _kms_key_in(bucket.encryption)

    return lookup


def install_hook(decisions: Path) -> None:
    """Replace moto's S3 authorisation with AWS's mapping and condition-aware evaluation."""
    from moto.iam.access_control import IAMPolicy, S3IAMRequest

    from tests.support.iam_policy import Policy, decide_all
    from tests.support.iam_s3 import S3Call, authorisations

    lock = threading.Lock()

    def check_action_permitted(self: Any, resource: str) -> None:
        path, _, query = self._path.partition("?")
        headers = {k.lower(): v for k, v in dict(self._headers).items()}
        call = S3Call(self._method, path, query, headers, self._body or b"")
        needed = authorisations(call, _kms_lookup(self.account_id), _exists(self.account_id))
        documents = [IAMPolicy(p)._policy_json for p in self._access_key.collect_policies()]
        decision, reason = decide_all([Policy.parse(d) for d in documents], needed)
        record = {
            "method": call.method,
            "path": path,
            "query": query,
            "principal": self._access_key.arn,
            "checked": [[r.action, r.resource, dict(r.context)] for r in needed],
            "decision": decision,
            "reason": reason,
        }
        with lock, decisions.open("a") as out:
            out.write(json.dumps(record) + "\n")
        if decision != "allow":
            self._raise_access_denied()

    S3IAMRequest.check_action_permitted = check_action_permitted  # type: ignore[method-assign]


def _serve(decisions: Path) -> None:
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_CALLS)  # read when moto is imported
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").disabled = True
    install_hook(decisions)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap",
    )  # fmt: skip
    iam.create_user(UserName="admin")
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    iam.put_user_policy(
        UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY)
    )
    print(
        json.dumps(
            {"endpoint": endpoint, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
        ),
        flush=True,
    )
    sys.stdin.read()  # serve until the parent closes our stdin
    server.stop()


@dataclass(frozen=True)
class EnforcingMoto:
    endpoint: str
    admin_key: str
    admin_secret: str
    decisions: Path

    def client(self, service: str, **credentials: str) -> Any:
        import boto3
        from botocore.config import Config

        keys = credentials or {
            "aws_access_key_id": self.admin_key,
            "aws_secret_access_key": self.admin_secret,
        }
        make: Any = boto3.client  # one helper for every service: no per-service overload
        return make(
            service, endpoint_url=self.endpoint, region_name=REGION,
            config=Config(retries={"max_attempts": 1}), **keys,
        )  # fmt: skip

    def records(self) -> list[dict[str, Any]]:
        text = self.decisions.read_text() if self.decisions.exists() else ""
        return [json.loads(line) for line in text.splitlines()]


@contextmanager
def enforcing_moto(decisions: Path) -> Iterator[EnforcingMoto]:
    """The server in a child process on 127.0.0.1; stopped (by closing its stdin) on exit."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.iam_server", "--decisions", str(decisions)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"the enforcing moto server did not start (exit {child.wait()})")
        info = json.loads(line)
        yield EnforcingMoto(info["endpoint"], info["key"], info["secret"], decisions)
    finally:
        if child.stdin:
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=Path, required=True)
    _serve(parser.parse_args().decisions)


if __name__ == "__main__":
    main()
