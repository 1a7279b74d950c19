"""What readers of a published day see, and the guarantees they are promised.

Readers of the Delta table see the day's files its log lists; `_manifests/<date>.json`
names the version that published the day. `DayView.check_guarantees` asserts, for one
instant, what docs/contract.md promises to them.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq
from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class DayView:
    manifest: dict[str, Any] | None  # _manifests/<date>.json
    parquet: dict[str, bytes]  # every *.parquet object of the day folder
    others: list[str]  # anything else in the day folder
    table: list[str]  # the day's files as the Delta table lists them (keys)
    table_version: int | None

    @classmethod
    def read(cls, s3: S3Client, bucket: str, day_prefix: str, date: str, endpoint: str) -> DayView:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=day_prefix)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        body = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}
        try:
            text = s3.get_object(Bucket=bucket, Key=f"_manifests/{date}.json")["Body"].read()
            manifest = json.loads(text)
        except s3.exceptions.NoSuchKey:
            manifest = None
        parquet = {k: v for k, v in body.items() if k.endswith(".parquet")}
        others = [k for k in keys if not k.endswith(".parquet")]
        table, version = _table_files(bucket, day_prefix, endpoint)
        return cls(manifest, parquet, others, table, version)

    def transaction_ids(self) -> list[str]:
        ids: list[str] = []
        for key in self.table:
            data = self.parquet[key]
            ids += pq.read_table(io.BytesIO(data), columns=["transaction_id"]).column(0).to_pylist()
        return ids

    @property
    def table_rows(self) -> int:
        return len(self.transaction_ids())

    def check_guarantees(self) -> None:
        """The table's day is whole and readable; the manifest agrees with the version it names."""
        assert self.others == [], f"non-Parquet objects in the day folder: {self.others}"
        missing = [k for k in self.table if k not in self.parquet]
        assert missing == [], f"the table lists files that are gone: {missing}"
        ids = self.transaction_ids()
        assert len(ids) == len(set(ids)), "a table reader sees some rows twice"
        if self.manifest is None or set(self.manifest["keys"]) != set(self.table):
            # Written after the commit: at most one commit behind, never ahead of the table.
            if self.manifest is not None:
                assert self.table_version is not None
                assert self.manifest["table_version"] < self.table_version
            return
        for obj in self.manifest["objects"]:
            data = self.parquet[obj["key"]]
            assert hashlib.sha256(data).hexdigest() == obj["sha256"], f"{obj['key']} changed"
            assert pq.ParquetFile(io.BytesIO(data)).metadata.num_rows == obj["rows"]
        assert len(ids) == self.manifest["rows"]


def _table_files(bucket: str, day_prefix: str, endpoint: str) -> tuple[list[str], int | None]:
    """The day's files in the table's latest version, read through its log (deltalake)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    options = {
        "endpoint": endpoint, "allow_http": "true", "region": "us-east-1",
        "access_key_id": "testing", "secret_access_key": "testing",
    }  # fmt: skip
    try:
        table = DeltaTable(f"s3://{bucket}", storage_options=options)
    except TableNotFoundError:
        return [], None
    files = [u.removeprefix(f"s3://{bucket}/") for u in table.file_uris()]
    return sorted(f for f in files if f.startswith(day_prefix)), table.version()


def pending_uploads(s3: S3Client, bucket: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def keys_under(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
