"""The rhythm of one day: which second of the day each row falls on, and whose clock.

Every country pays by its own local clock (with summer time); the feed is in UTC.
The day's UTC intensity is the sum of the countries' local rhythms, each shifted by
its UTC offset at that hour, so Lisbon's evening peak lands an hour after Warsaw's.

Row r of N gets the time quantile (r + u) / N of the day's payment intensity, so
rows come out in time order and any row range can be timed on its own. A row's
country is then drawn from the countries' shares of that UTC hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from importlib.resources import files
from zoneinfo import ZoneInfo

import numpy as np

from fraud_detection.simulator.reference import (
    COUNTRIES,
    COUNTRY_WEIGHTS,
    N_COUNTRIES,
    WEEK_INTENSITY,
)

SECONDS_PER_DAY = 86_400
_HOUR_EDGES = np.arange(25, dtype=np.float64) * 3600.0
_HOURS = np.arange(24)


def _zone(key: str) -> ZoneInfo:
    # From the tzdata package, not the host's /usr/share/zoneinfo: the same rules in the
    # venv and the image, so the rows are the same too.
    with files("tzdata").joinpath("zoneinfo", *key.split("/")).open("rb") as f:
        return ZoneInfo.from_file(f, key=key)


_ZONES = tuple(_zone(c.tz) for c in COUNTRIES)


@lru_cache(maxsize=256)
def utc_offsets(day: date) -> np.ndarray:
    """Local minus UTC, in whole hours, for each country at each UTC hour: (countries, 24)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    instants = [midnight + timedelta(hours=h) for h in range(24)]
    out = np.empty((N_COUNTRIES, 24), dtype=np.int64)
    for ci, zone in enumerate(_ZONES):
        for h, t in enumerate(instants):
            offset = zone.utcoffset(t.astimezone(zone))
            out[ci, h] = int(offset.total_seconds()) // 3600 if offset is not None else 0
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class DayClock:
    day: date
    rows: int
    cdf: np.ndarray  # cumulative share of the day's payments at each UTC hour edge (25 values)
    offsets: np.ndarray  # (countries, 24): local − UTC hours at each UTC hour
    country_cdf: np.ndarray  # (24, countries): cumulative country shares within each UTC hour

    @classmethod
    def for_day(cls, day: date, rows: int) -> DayClock:
        offsets = utc_offsets(day)
        local = _HOURS[None, :] + offsets  # may run into the next local day
        weekday = (day.weekday() + local // 24) % 7
        by_country = WEEK_INTENSITY[weekday, local % 24] * COUNTRY_WEIGHTS[:, None]  # (C, 24)
        intensity = by_country.sum(axis=0)
        cdf = np.concatenate([[0.0], np.cumsum(intensity) / intensity.sum()])
        country_cdf = np.cumsum(by_country.T, axis=1) / intensity[:, None]
        country_cdf[:, -1] = 1.0
        return cls(day=day, rows=rows, cdf=cdf, offsets=offsets, country_cdf=country_cdf)

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

    def countries(self, hour: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Whose payment each row is, by the countries' shares of its UTC hour."""
        # Rows are in time order, so each hour is one contiguous run.
        out = np.empty(len(hour), dtype=np.int64)
        bounds = np.searchsorted(hour, np.arange(25))
        for h in range(24):
            lo, hi = bounds[h], bounds[h + 1]
            out[lo:hi] = np.searchsorted(self.country_cdf[h], u[lo:hi], side="right")
        return np.minimum(out, N_COUNTRIES - 1)

    @cached_property
    def local_hours(self) -> np.ndarray:
        """(countries, 24): the local hour at each UTC hour."""
        return (_HOURS[None, :] + self.offsets) % 24

    def local_hour(self, country: np.ndarray, hour: np.ndarray) -> np.ndarray:
        # One gather from the day's table (flat: cheaper than a 2-D index).
        return self.local_hours.ravel()[country * 24 + hour]
