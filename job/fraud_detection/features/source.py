"""The raw feed, read only through each day's `_manifest.json` (a day without one is unpublished).

Local folders are read in place; from S3 the listed objects are downloaded into scratch space
first, so polars always scans local files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fraud_detection.errors import DestinationError, IncompleteDay
from fraud_detection.sinks.destination import Destination
from fraud_detection.sinks.layout import DayLayout


@dataclass
class RawFeed:
    source: Destination
    scratch: Path

    def manifest(self, day: date) -> dict[str, Any] | None:
        key = DayLayout(self.source.prefix, day).manifest_key
        text = self._get_text(key)
        if text is None:
            return None
        try:
            manifest: dict[str, Any] = json.loads(text)
        except ValueError:
            raise DestinationError(f"the manifest {self.source.uri(key)} is not JSON") from None
        return manifest if manifest.get("complete", True) else None

    def files(self, day: date) -> list[Path] | None:
        """The day's Parquet files as local paths; None when the day is not published."""
        manifest = self.manifest(day)
        if manifest is None:
            return None
        paths = [self._local(key) for key in manifest["keys"]]
        absent = [str(p) for p in paths if not p.is_file()]
        if absent:
            raise IncompleteDay(
                f"the manifest of {day} lists files that are missing: {', '.join(absent)}; "
                "re-run daily-synthetic for that day"
            )
        return paths

    def _get_text(self, key: str) -> str | None:
        root = getattr(self.source, "root", None)
        if root is not None:
            try:
                return (Path(root) / key).read_text()
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise DestinationError(f"cannot read {Path(root) / key}: {exc.strerror}") from None
        if self.source.head(key) is None:
            return None
        client = self.source.client  # type: ignore[attr-defined]
        with self.source._errors(f"read {self.source.uri(key)}"):  # type: ignore[attr-defined]
            body = client.get_object(Bucket=self.source.bucket, Key=key)["Body"]  # type: ignore[attr-defined]
            return str(body.read().decode())

    def _local(self, key: str) -> Path:
        root = getattr(self.source, "root", None)
        if root is not None:
            return Path(root) / key
        target = self.scratch / key
        target.parent.mkdir(parents=True, exist_ok=True)
        client = self.source.client  # type: ignore[attr-defined]
        with self.source._errors(f"download {self.source.uri(key)}"):  # type: ignore[attr-defined]
            client.download_file(self.source.bucket, key, str(target))  # type: ignore[attr-defined]
        return target
