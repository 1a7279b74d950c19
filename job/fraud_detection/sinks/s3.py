"""S3 destination: boto3 with botocore's retries/timeouts and TransferConfig multipart.

Endpoint (AWS_ENDPOINT_URL), region and credentials all come from boto3's own
default chain, so the same code runs against moto, rclone, or AWS with a role.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from fraud_detection.errors import DestinationError, UsageError
from fraud_detection.sinks.destination import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

log = logging.getLogger(__name__)

RetryMode = Literal["legacy", "standard", "adaptive"]
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
MIB = 1024 * 1024
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def check_bucket_name(bucket: str, dest: str) -> None:
    if not _BUCKET_NAME.match(bucket):
        raise UsageError(f"destination {dest!r}: {bucket!r} is not a valid S3 bucket name")


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise UsageError(f"{name}={raw!r}: must be more than 0 and at most 3600 seconds")
    return value


def endpoint_url() -> str | None:
    """The endpoint boto3 itself will use (service-specific variable first)."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def _check_endpoint(url: str) -> None:
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # .port raises on a bad port
    except ValueError as exc:
        raise UsageError(f"AWS_ENDPOINT_URL={url!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(
            f"AWS_ENDPOINT_URL={url!r} is not an http(s)://HOST[:PORT] URL; fix or unset it"
        )


def check_environment() -> None:
    """The S3 settings read from the environment, checked before anything runs."""
    if endpoint := endpoint_url():
        _check_endpoint(endpoint)
    client_config()


def client_config() -> Config:
    """Bounded time on a dead endpoint: botocore's own retries and timeouts.

    AWS_MAX_ATTEMPTS / AWS_RETRY_MODE (botocore's variables) still override retries.
    """
    attempts_raw = os.environ.get("AWS_MAX_ATTEMPTS", "3").strip()
    if not attempts_raw.isdigit() or not 1 <= int(attempts_raw) <= 20:
        raise UsageError(f"AWS_MAX_ATTEMPTS={attempts_raw!r}: must be a whole number from 1 to 20")
    mode = os.environ.get("AWS_RETRY_MODE", "standard").strip()
    if mode not in ("legacy", "standard", "adaptive"):
        raise UsageError(f"AWS_RETRY_MODE={mode!r}: must be legacy, standard or adaptive")
    return Config(
        connect_timeout=_env_seconds("DAILY_SYNTHETIC_S3_CONNECT_TIMEOUT", 5.0),
        read_timeout=_env_seconds("DAILY_SYNTHETIC_S3_READ_TIMEOUT", 60.0),
        retries={"mode": cast(RetryMode, mode), "total_max_attempts": int(attempts_raw)},
    )


def transfer_config() -> TransferConfig:
    return TransferConfig(
        multipart_threshold=16 * MIB,
        multipart_chunksize=16 * MIB,
        max_concurrency=4,
        use_threads=True,
    )


class _Progress:
    """Logs upload progress at every 25 %, from boto3's callback threads."""

    def __init__(self, key: str, size: int) -> None:
        self.key, self.size, self.sent, self.next = key, size, 0, 0.25
        self.lock = threading.Lock()

    def __call__(self, chunk: int) -> None:
        with self.lock:
            self.sent += chunk
            share = self.sent / self.size if self.size else 1.0
            while share >= self.next and self.next <= 1.0:
                log.info(
                    "uploading %s: %.0f%% of %.1f MB", self.key, 100 * self.next, self.size / 1e6
                )
                self.next += 0.25


@dataclass
class S3Destination:
    bucket: str
    prefix: str = ""
    _client: Any = field(default=None, repr=False)

    @property
    def client(self) -> S3Client:
        if self._client is None:
            # A fresh session: the default chain is read now, never a cached one.
            self._client = boto3.session.Session().client("s3", config=client_config())
        return cast("S3Client", self._client)

    def describe(self) -> str:
        endpoint = endpoint_url()
        where = f" at {endpoint}" if endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/") + where

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def table_uri(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def storage_options(self) -> dict[str, str]:
        """boto3's endpoint, region and credentials, handed to delta-rs's object store.

        `conditional_put=etag`: the log's next version is written with `If-None-Match: *`,
        so of two writers of one version exactly one wins (no locking service needed).
        """
        session = boto3.session.Session()
        options = {"conditional_put": "etag"}
        if endpoint := endpoint_url():
            options["endpoint"] = endpoint
            if endpoint.startswith("http://"):
                options["allow_http"] = "true"
        region = session.region_name or self.client.meta.region_name
        if region:
            options["region"] = region
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            options["access_key_id"] = frozen.access_key or ""
            options["secret_access_key"] = frozen.secret_key or ""
            if frozen.token:
                options["session_token"] = frozen.token
        return options

    def preflight(self) -> None:
        # A listing of our own root, not HeadBucket: HeadBucket needs s3:ListBucket with no
        # s3:prefix, which a policy that limits listing to the dataset's prefix refuses.
        root = f"{self.prefix}/" if self.prefix else ""
        with self._errors(f"check bucket (list s3://{self.bucket}/{root})"):
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=root, MaxKeys=1)

    def conditional_writes(self) -> bool:
        """Probe once: does this store refuse a second If-None-Match write of one key, and
        an If-Match write with a tag the key does not have?

        AWS S3 and moto do. Some S3-compatible servers (rclone `serve s3` 1.75) accept and
        ignore both headers; then the lease is strict (sinks/lease.py) and says so.
        """
        if not endpoint_url():
            return True
        probe = f"{self.prefix}/_leases/.probe-{uuid.uuid4().hex}".lstrip("/")
        try:
            honoured = (
                self.create_exclusive(probe, "probe")
                and not self.create_exclusive(probe, "probe")
                and not self.replace_if_match(probe, "probe", '"not-its-etag"')
            )
        finally:
            self.delete([probe])
        return honoured

    def upload(self, local: Path, key: str, metadata: dict[str, str]) -> None:
        size = local.stat().st_size
        log.info("uploading %s (%.1f MB) to s3://%s/%s", local.name, size / 1e6, self.bucket, key)
        # Multipart: the object appears only when CompleteMultipartUpload succeeds,
        # and s3transfer aborts the upload on any failure (or KeyboardInterrupt).
        with self._errors(f"upload s3://{self.bucket}/{key}"):
            self.client.upload_file(
                str(local),
                self.bucket,
                key,
                ExtraArgs={"ContentType": PARQUET_CONTENT_TYPE, "Metadata": metadata},
                Config=transfer_config(),
                Callback=_Progress(key, size),
            )

    def copy(self, source: StoredObject, key: str) -> None:
        # One CopyObject up to 5 GB (a 50 M-row part is ~3.2 GB); the managed copy beyond.
        args: dict[str, Any] = {
            "CopySourceIfMatch": source.tag,
            "MetadataDirective": "REPLACE",
            "ContentType": PARQUET_CONTENT_TYPE,
        }
        copy_source: CopySourceTypeDef = {"Bucket": self.bucket, "Key": source.key}
        with self._errors(f"copy s3://{self.bucket}/{source.key} to {key}"):
            if source.size < 5 * 1024 * MIB:
                self.client.copy_object(Bucket=self.bucket, Key=key, CopySource=copy_source, **args)
            else:
                self.client.copy(copy_source, self.bucket, key, ExtraArgs=args)

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        with self._errors(f"list s3://{self.bucket}/{prefix}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)

    def head(self, key: str) -> StoredObject | None:
        """The object's size and metadata, or None if there is no such object."""
        with self._errors(f"read s3://{self.bucket}/{key}"):
            try:
                r = self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if is_not_found(exc):
                    return None
                raise
        meta = {k.lower(): v for k, v in r.get("Metadata", {}).items()}
        return StoredObject(key=key, size=r["ContentLength"], metadata=meta, tag=r["ETag"])

    def get_text(self, key: str) -> str | None:
        got = self.get_tagged(key)
        return got[0] if got else None

    def _get(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """The object's text and the response, or None if there is no such object."""
        with self._errors(f"read s3://{self.bucket}/{key}"):
            try:
                r = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if is_not_found(exc):
                    return None
                raise
            return r["Body"].read().decode(), dict(r)

    def get_tagged(self, key: str) -> tuple[str, str] | None:
        got = self._get(key)
        return (got[0], got[1]["ETag"]) if got else None

    def get_aged(self, key: str) -> tuple[str, str, float] | None:
        got = self._get(key)
        if got is None:
            return None
        text, r = got
        # Both ends of the age from the store: its Date header and the object's LastModified.
        headers = r.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if "date" not in headers:
            return text, r["ETag"], 0.0  # no clock of the store's: never judged expired early
        return (
            text,
            r["ETag"],
            (
                _utc(parsedate_to_datetime(headers["date"])) - _utc(r["LastModified"])
            ).total_seconds(),
        )

    def download(self, key: str, local: Path) -> None:
        with self._errors(f"download s3://{self.bucket}/{key}"):
            self.client.download_file(self.bucket, key, str(local), Config=transfer_config())

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            with self._errors(f"delete stale objects in s3://{self.bucket}"):
                r = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            if r.get("Errors"):
                first = r["Errors"][0]
                raise DestinationError(
                    f"could not delete s3://{self.bucket}/{first.get('Key')}: {first.get('Message')}"
                )

    def put_text(self, key: str, text: str, content_type: str) -> None:
        with self._errors(f"write s3://{self.bucket}/{key}"):
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=text.encode(), ContentType=content_type
            )

    def create_exclusive(self, key: str, text: str) -> bool:
        return self._conditional_put(key, text, IfNoneMatch="*")

    def replace_if_match(self, key: str, text: str, tag: str) -> bool:
        return self._conditional_put(key, text, IfMatch=tag)

    def delete_if_match(self, key: str, tag: str) -> bool:
        with self._errors(f"delete s3://{self.bucket}/{key}"):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=tag)
            except ClientError as exc:
                if is_precondition_failed(exc) or is_not_found(exc):
                    return False
                raise
        return True

    def abort_uploads(self, prefix: str) -> int:
        aborted = 0
        with self._errors(f"abort unfinished uploads under s3://{self.bucket}/{prefix}"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            try:
                for upload in (u for page in pages for u in page.get("Uploads", [])):
                    try:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    except ClientError as exc:
                        if not _upload_gone(exc):
                            raise
                        continue  # finished or aborted meanwhile: nothing left to abort
                    aborted += 1
            except ClientError as exc:
                # Some S3-compatible stores (rclone serve s3) answer the listing itself
                # with NoSuchUpload or NotImplemented when they keep no uploads to list.
                if not (_upload_gone(exc) or _error_code(exc) == "NotImplemented"):
                    raise
                log.debug("the store lists no multipart uploads under %s: %s", prefix, exc)
        return aborted

    def _conditional_put(self, key: str, text: str, **condition: str) -> bool:
        with self._errors(f"write s3://{self.bucket}/{key}"):
            try:
                self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=text.encode(),
                    ContentType="application/json", **condition,  # type: ignore[arg-type]
                )  # fmt: skip
            except ClientError as exc:
                if is_precondition_failed(exc) or (is_not_found(exc) and "IfMatch" in condition):
                    return False
                raise
        return True

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """botocore's exceptions as one-line DestinationErrors."""
        try:
            yield
        except Exception as exc:
            message = error_message(exc, action, self.bucket)
            if message is None:
                raise
            raise DestinationError(message) from None


def _utc(moment: datetime) -> datetime:
    """Some servers' dates carry no zone (`-0000`): they are UTC all the same."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_precondition_failed(exc: ClientError) -> bool:
    """412, or 409 when two conditional writes of one key race (AWS)."""
    return _error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict")


def is_not_found(exc: ClientError) -> bool:
    return _error_code(exc) in ("404", "NoSuchKey", "NotFound")


def _upload_gone(exc: ClientError) -> bool:
    return _error_code(exc) == "NoSuchUpload"


_BAD_CREDENTIALS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
     "InvalidClientTokenId", "AuthFailure"}
)  # fmt: skip


def error_message(exc: BaseException, action: str, bucket: str) -> str | None:
    """One actionable line for a failure of `action`, or None if it is not an S3 failure."""
    where = endpoint_url() or "the default AWS S3 endpoint"
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        msg = (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
            "AWS_PROFILE, or run with an IAM role"
        )
    elif isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        msg = f"cannot reach S3 at {where} (connection failed); check AWS_ENDPOINT_URL and the network"
    elif isinstance(exc, ReadTimeoutError):
        msg = f"S3 at {where} stopped answering (read timeout) during {action}"
    elif isinstance(exc, ClientError):
        msg = _client_error_message(exc, action, bucket, where)
    elif isinstance(exc, BotoCoreError):
        msg = f"S3 client error during {action}: {exc}"
    elif isinstance(exc, OSError) or type(exc).__module__.startswith("urllib3"):
        msg = f"connection to S3 at {where} failed during {action}: {exc}"
    elif type(exc).__module__.startswith(("s3transfer", "boto3")):
        msg = f"upload failed during {action}: {exc}"
    else:
        return None
    return " ".join(msg.split())


def _client_error_message(exc: ClientError, action: str, bucket: str, where: str) -> str:
    err = exc.response.get("Error", {})
    code = str(err.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in ("404", "NoSuchBucket") or (status == 404 and "bucket" in action):
        return (
            f"bucket {bucket!r} does not exist at {where}; the job never creates buckets: "
            "create it, or fix RAW_BUCKET / --dest"
        )
    if code in _BAD_CREDENTIALS:
        return f"S3 rejected the credentials ({code}); check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the role"
    if code in ("403", "AccessDenied", "Forbidden") or status == 403:
        return (
            f"access denied ({code or status}) during {action}: the role or keys in use are "
            "not allowed to do this; check that their IAM policy covers this bucket and prefix"
        )
    return f"S3 error during {action}: {code or status} {err.get('Message', '')}".strip()
