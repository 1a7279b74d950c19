"""The raw feed, read only through each day's `_manifest.json` (a day without one is unpublished).

Local folders are read in place; from S3 the listed objects are downloaded into scratch space
first (Destination.download), so polars always scans local files.
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
        return self.source.get_text(key)

    def _local(self, key: str) -> Path:
        root = getattr(self.source, "root", None)
        if root is not None:  # a local feed is read in place
            return Path(root) / key
        target = self.scratch / key
        target.parent.mkdir(parents=True, exist_ok=True)
        self.source.download(key, target)
        return target
