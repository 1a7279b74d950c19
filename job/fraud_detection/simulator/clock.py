"""The rhythm of one day: which second of the day each row falls on.

Row r of N gets the time quantile (r + u) / N of the day's payment intensity, so
rows come out in time order and any row range can be timed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from fraud_detection.simulator.reference import hourly_intensity

SECONDS_PER_DAY = 86_400
_HOUR_EDGES = np.arange(25, dtype=np.float64) * 3600.0


@dataclass(frozen=True)
class DayClock:
    day: date
    rows: int
    cdf: np.ndarray  # cumulative share of the day's payments at each hour edge (25 values)

    @classmethod
    def for_day(cls, day: date, rows: int) -> DayClock:
        intensity = hourly_intensity(day.weekday())
        cdf = np.concatenate([[0.0], np.cumsum(intensity) / intensity.sum()])
        return cls(day=day, rows=rows, cdf=cdf)

    @property
    def start_us(self) -> int:
        midnight = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        return int(midnight.timestamp()) * 1_000_000

    def seconds(self, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Second of the day for each row, u in [0, 1) jittering it inside its slot."""
        return np.interp((rows + u) / self.rows, self.cdf, _HOUR_EDGES)

    def rows_at(self, seconds: np.ndarray) -> np.ndarray:
        """The row whose slot holds each second of the day (inverse of `seconds`)."""
        q = np.interp(np.clip(seconds, 0.0, SECONDS_PER_DAY - 1e-6), _HOUR_EDGES, self.cdf)
        return np.clip((q * self.rows).astype(np.int64), 0, self.rows - 1)
