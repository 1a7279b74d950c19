"""Where a day's objects live: a Delta Lake table with Hive-style year=/month=/day= folders.

    <prefix>/_delta_log/NNNNNNNNNNNNNNNNNNNN.json                      the table's commit log
    <prefix>/year=YYYY/month=M/day=D/part-RUN-NNNNN-of-KKKKK.parquet   the day's parts
    <prefix>/_manifests/YYYY-MM-DD.json                                the day's manifest
    <prefix>/_staging/YYYY-MM-DD/part-NNNNN-of-KKKKK.parquet.staged    slices before the commit
    <prefix>/_leases/YYYY-MM-DD.json                                   one writer per day

Partition values are integers without zero padding (`month=6`, `day=9`), so every reader
that infers Hive types from the folder names (DuckDB, polars, pyarrow) gets one integer
type per column, and the folder names are what Delta itself writes for integer values.
Part keys carry the publishing run's id: a re-run never overwrites a file a reader may
be reading. Everything that is not a day's Parquet starts with an underscore and lies
outside the day folders, so `<prefix>/year=*/month=*/day=*/*.parquet` (PARTITION_GLOB)
reaches the days' Parquet only; `**/*.parquet` would also reach the log's checkpoints
(`_delta_log/*.checkpoint.parquet`, one every 100 commits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MANIFESTS = "_manifests"  # leading underscore: Hive/Athena/pyarrow/polars readers skip it
LEASES = "_leases"
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
        return self._under(f"year={d.year}/month={d.month}/day={d.day}/")

    @property
    def partition_values(self) -> dict[str, str]:
        """The day's partition as the Delta log records it (see PARTITION_COLUMNS)."""
        d = self.day
        return {"year": str(d.year), "month": str(d.month), "day": str(d.day)}

    def part_key(self, index: int, count: int, run_id: str) -> str:
        return f"{self.partition}part-{run_id}-{index:05d}-of-{count:05d}.parquet"

    def relative(self, key: str) -> str:
        """`key` relative to the dataset root (a path in the Delta log)."""
        return key[len(self.prefix) + 1 :] if self.prefix else key

    @property
    def manifest_key(self) -> str:
        return self._under(f"{MANIFESTS}/{self.day.isoformat()}.json")

    @property
    def staging(self) -> str:
        return self._under(f"_staging/{self.day.isoformat()}/")

    def staged_key(self, index: int, count: int) -> str:
        return f"{self.staging}part-{index:05d}-of-{count:05d}.parquet{STAGED_SUFFIX}"

    @property
    def lease_key(self) -> str:
        return self._under(f"{LEASES}/{self.day.isoformat()}.json")

    @property
    def dataset_glob(self) -> str:
        """Relative to the destination root: every day's Parquet, nothing else."""
        return self._under(PARTITION_GLOB)
