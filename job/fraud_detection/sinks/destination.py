"""Where a day is published: a local folder or s3://bucket[/prefix]."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fraud_detection.errors import UsageError


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    metadata: dict[str, str]  # lower-cased keys (some S3 servers capitalise them)


class Destination(Protocol):
    prefix: str

    def describe(self) -> str: ...

    def uri(self, key: str) -> str: ...

    def preflight(self) -> None:
        """Fail fast, before generating anything, if we could not publish."""

    def publish(self, local: Path, key: str, metadata: dict[str, str]) -> None:
        """Make `local` visible at `key`, whole or not at all."""

    def list_keys(self, prefix: str) -> list[str]: ...

    def head(self, key: str) -> StoredObject | None:
        """Size and metadata of `key`, or None if there is no such object."""

    def get_text(self, key: str) -> str | None:
        """The object's text (e.g. a manifest), or None if there is no such object."""

    def download(self, key: str, local: Path) -> None:
        """Copy the object at `key` to the local file `local`."""

    def delete(self, keys: list[str]) -> None: ...

    def put_text(self, key: str, text: str, content_type: str) -> None: ...


def parse_destination(dest: str | None) -> Destination:
    """DEST, else s3://$RAW_BUCKET, else an error that says what to set."""
    if not dest:
        bucket = os.environ.get("RAW_BUCKET", "").strip()
        if not bucket:
            raise UsageError(
                "no destination: pass --dest DIR or --dest s3://BUCKET[/PREFIX], or set RAW_BUCKET"
            )
        dest = f"s3://{bucket}"
    if dest.startswith("s3://") or dest.startswith("s3a://"):
        rest = dest.split("://", 1)[1]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise UsageError(
                f"destination {dest!r} has no bucket name (expected s3://BUCKET[/PREFIX])"
            )
        from fraud_detection.sinks.s3 import S3Destination, check_bucket_name

        check_bucket_name(bucket, dest)
        return S3Destination(bucket=bucket, prefix=prefix.strip("/"))
    if "://" in dest:
        raise UsageError(f"destination {dest!r}: only local paths and s3:// URIs are supported")
    from fraud_detection.sinks.local import LocalDestination

    path = Path(dest)
    if path.exists() and not path.is_dir():
        raise UsageError(f"destination {dest!r} is a file, not a directory")
    return LocalDestination(root=path)
