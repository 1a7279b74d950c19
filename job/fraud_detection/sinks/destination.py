"""Where a day is published: a local folder or s3://bucket[/prefix].

Both kinds offer the same object-store operations, so the publishing protocol
(sinks/publish.py) and the lease (sinks/lease.py) are written once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fraud_detection.errors import UsageError

NAME_MAX = 255  # bytes in one path component (ext4, xfs, APFS, NTFS)
S3_KEY_MAX = 1024
KEY_ROOM = 120  # what the layout appends to a prefix: _staging/YYYY-MM-DD/part-…staged.meta.json


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    metadata: dict[str, str]  # lower-cased keys (some S3 servers capitalise them)
    tag: str = ""  # the ETag on S3; a file's identity locally. Changes when the object does.


class Destination(Protocol):
    prefix: str

    def describe(self) -> str: ...

    def uri(self, key: str) -> str: ...

    def table_uri(self, prefix: str) -> str:
        """The dataset root at `prefix` as `deltalake` opens it (a path, or s3://bucket/prefix)."""

    def storage_options(self) -> dict[str, str]:
        """`deltalake`'s options for this store: endpoint, credentials, conditional put."""

    def preflight(self) -> None:
        """Fail fast, before generating anything, if we could not publish."""

    def conditional_writes(self) -> bool:
        """Whether create_exclusive/replace_if_match are enforced by the store (a probe with
        a key of its own; sinks/lease.py is strict where they are not)."""

    def upload(self, local: Path, key: str, metadata: dict[str, str]) -> None:
        """Make `local` visible at `key` with `metadata`, whole or not at all."""

    def copy(self, source: StoredObject, key: str) -> None:
        """Server-side copy of `source` to `key` (no metadata), only if `source` is unchanged."""

    def list_keys(self, prefix: str) -> list[str]: ...

    def head(self, key: str) -> StoredObject | None:
        """Size, metadata and tag of `key`, or None if there is no such object."""

    def get_text(self, key: str) -> str | None:
        """The object's text (e.g. a manifest), or None if there is no such object."""

    def get_tagged(self, key: str) -> tuple[str, str] | None:
        """(text, tag) of `key`, read in one request, or None."""

    def get_aged(self, key: str) -> tuple[str, str, float] | None:
        """(text, tag, age) of `key` in one request, or None. The age (seconds since the object
        was last written) is judged by the store's own clock, never the caller's."""

    def download(self, key: str, local: Path) -> None:
        """Copy the object at `key` to the local file `local`."""

    def delete(self, keys: list[str]) -> None: ...

    def put_text(self, key: str, text: str, content_type: str) -> None: ...

    def create_exclusive(self, key: str, text: str) -> bool:
        """Write `key` only if it does not exist; False if it does."""

    def replace_if_match(self, key: str, text: str, tag: str) -> bool:
        """Overwrite `key` only if its tag is still `tag`; False otherwise."""

    def delete_if_match(self, key: str, tag: str) -> bool:
        """Delete `key` only if its tag is still `tag`; False otherwise."""

    def abort_uploads(self, prefix: str) -> int:
        """Abort unfinished uploads (multipart, temp files) under `prefix`; how many."""


def _check_prefix(dest: str, prefix: str) -> None:
    parts = prefix.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UsageError(
            f"destination {dest!r}: the prefix may not contain '.', '..' or empty components"
        )
    if len(prefix.encode()) + KEY_ROOM > S3_KEY_MAX:
        raise UsageError(f"destination {dest!r}: the prefix is too long for S3 keys")


def _check_local_path(dest: str, path: Path) -> None:
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise UsageError(
                f"destination {dest!r}: a path component is longer than {NAME_MAX} bytes"
            )
    if path.exists() and not path.is_dir():
        raise UsageError(f"destination {dest!r} is a file, not a directory")


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
        from fraud_detection.sinks.s3 import S3Destination, check_bucket_name, check_environment

        check_bucket_name(bucket, dest)
        prefix = prefix.strip("/")
        if prefix:
            _check_prefix(dest, prefix)
        check_environment()
        return S3Destination(bucket=bucket, prefix=prefix)
    if "://" in dest:
        raise UsageError(f"destination {dest!r}: only local paths and s3:// URIs are supported")
    from fraud_detection.sinks.local import LocalDestination

    path = Path(dest)
    _check_local_path(dest, path)
    return LocalDestination(root=path)
