"""Where a day's objects live: Hive-style year=/month=/day= partitions.

    <prefix>/year=YYYY/month=MM/day=DD/part-NNNNN-of-KKKKK.parquet   published parts
    <prefix>/year=YYYY/month=MM/day=DD/_manifest.json                the day's commit marker
    <prefix>/_staging/YYYY-MM-DD/part-NNNNN-of-KKKKK.parquet.staged  slices before promotion
    <prefix>/_leases/YYYY-MM-DD.json                                 one writer per day

Readers glob `<prefix>/year=*/month=*/day=*/*.parquet`; the staging area starts with an
underscore and its objects do not end in `.parquet`, so no dataset glob reaches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MANIFEST_NAME = "_manifest.json"  # leading underscore: Hive/Athena/pyarrow readers skip it
STAGED_SUFFIX = ".staged"
PARTITION_GLOB = "year=*/month=*/day=*/*.parquet"


@dataclass(frozen=True)
class DayLayout:
    prefix: str  # "" or "some/prefix" (no leading or trailing slash)
    day: date

    def _under(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    @property
    def partition(self) -> str:
        d = self.day
        return self._under(f"year={d:%Y}/month={d:%m}/day={d:%d}/")

    def part_key(self, index: int, count: int) -> str:
        return f"{self.partition}part-{index:05d}-of-{count:05d}.parquet"

    def part_keys(self, count: int) -> list[str]:
        return [self.part_key(i, count) for i in range(count)]

    @property
    def manifest_key(self) -> str:
        return self.partition + MANIFEST_NAME

    @property
    def staging(self) -> str:
        return self._under(f"_staging/{self.day.isoformat()}/")

    def staged_key(self, index: int, count: int) -> str:
        return f"{self.staging}part-{index:05d}-of-{count:05d}.parquet{STAGED_SUFFIX}"

    @property
    def lease_key(self) -> str:
        return self._under(f"_leases/{self.day.isoformat()}.json")

    @property
    def dataset_glob(self) -> str:
        """Relative to the destination root: every day's Parquet, nothing else."""
        return self._under(PARTITION_GLOB)
