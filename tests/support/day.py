"""What readers of a published day see, and the guarantees they are promised.

Two kinds of reader: one that follows `_manifest.json`, and one that globs
`year=*/month=*/day=*/*.parquet`. `DayView.check_guarantees` asserts, for one
instant, everything docs/contract.md promises to both.
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
    manifest: dict[str, Any] | None
    parquet: dict[str, bytes]  # every *.parquet object of the day folder
    others: list[str]  # anything else in the day folder

    @classmethod
    def read(cls, s3: S3Client, bucket: str, day_prefix: str) -> DayView:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=day_prefix)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        body = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}
        manifest_key = day_prefix + "_manifest.json"
        manifest = json.loads(body[manifest_key]) if manifest_key in body else None
        parquet = {k: v for k, v in body.items() if k.endswith(".parquet")}
        others = [k for k in keys if k != manifest_key and not k.endswith(".parquet")]
        return cls(manifest, parquet, others)

    def transaction_ids(self) -> list[str]:
        ids: list[str] = []
        for data in self.parquet.values():
            ids += pq.read_table(io.BytesIO(data), columns=["transaction_id"]).column(0).to_pylist()
        return ids

    def check_guarantees(self) -> None:
        """The manifest agrees with the objects; a glob never sees the same row twice."""
        assert self.others == [], f"non-Parquet objects in the day folder: {self.others}"
        ids = self.transaction_ids()
        assert len(ids) == len(set(ids)), "a glob reader sees some rows twice"
        if self.manifest is None:
            return
        assert sorted(self.manifest["keys"]) == sorted(self.parquet), "manifest and objects differ"
        for obj in self.manifest["objects"]:
            data = self.parquet[obj["key"]]
            assert hashlib.sha256(data).hexdigest() == obj["sha256"], f"{obj['key']} changed"
            assert pq.ParquetFile(io.BytesIO(data)).metadata.num_rows == obj["rows"]
        assert len(ids) == self.manifest["rows"]


def pending_uploads(s3: S3Client, bucket: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def keys_under(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
