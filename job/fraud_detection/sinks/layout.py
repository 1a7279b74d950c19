"""Where a day's objects live: Hive-style year=/month=/day= partitions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MANIFEST_NAME = "_manifest.json"  # leading underscore: Hive/Athena/pyarrow readers skip it


@dataclass(frozen=True)
class DayLayout:
    prefix: str  # "" or "some/prefix" (no leading or trailing slash)
    day: date

    @property
    def partition(self) -> str:
        d = self.day
        path = f"year={d:%Y}/month={d:%m}/day={d:%d}/"
        return f"{self.prefix}/{path}" if self.prefix else path

    def part_key(self, index: int, count: int) -> str:
        return f"{self.partition}part-{index:05d}-of-{count:05d}.parquet"

    def part_keys(self, count: int) -> list[str]:
        return [self.part_key(i, count) for i in range(count)]

    @property
    def manifest_key(self) -> str:
        return self.partition + MANIFEST_NAME
