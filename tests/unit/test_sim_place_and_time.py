"""Local clocks, geolocation and travel that hold together."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from fraud_detection.simulator.clock import DayClock, utc_offsets
from fraud_detection.simulator.reference import COUNTRIES

from .conftest import small_day

_COUNTRY = {c.code: i for i, c in enumerate(COUNTRIES)}


def _mean_utc_hour(df: pl.DataFrame) -> dict[str, float]:
    cp = df.filter(~pl.col("is_fraud"), pl.col("channel") != "online")
    ts = pl.col("event_timestamp")
    hours = cp.group_by("merchant_country").agg(
        (ts.dt.hour() + ts.dt.minute() / 60).mean().alias("h")
    )
    return dict(hours.iter_rows())


def test_each_country_pays_by_its_local_clock() -> None:
    h = _mean_utc_hour(small_day(rows=60_000))
    west = np.mean([h["GB"], h["PT"]])  # UTC+1 in summer
    east = np.mean([h["PL"], h["SE"], h["DE"]])  # UTC+2 in summer
    assert 0.6 < west - east < 1.4, h


def test_summer_time_moves_payments_an_hour_earlier_in_utc() -> None:
    winter = _mean_utc_hour(small_day(date(2025, 1, 15), rows=60_000))  # Wednesdays
    summer = _mean_utc_hour(small_day(date(2025, 7, 16), rows=60_000))
    for code in ("DE", "FR", "GB"):
        assert 0.6 < winter[code] - summer[code] < 1.4, (code, winter[code], summer[code])


def test_offsets_follow_the_clock_change_within_the_day() -> None:
    spring = utc_offsets(date(2025, 3, 30))  # clocks go forward at 01:00 UTC
    de, gb = _COUNTRY["DE"], _COUNTRY["GB"]
    assert spring[de, 0] == 1 and spring[de, 2] == 2
    assert spring[gb, 0] == 0 and spring[gb, 2] == 1


def test_a_clock_change_day_keeps_rows_in_order_inside_the_utc_day() -> None:
    day = date(2025, 10, 26)
    df = small_day(day, rows=30_000)
    ts = df["event_timestamp"]
    assert ts.is_sorted()
    assert ts.min().date() == day and ts.max().date() == day  # type: ignore[union-attr]
    clock = DayClock.for_day(day, 30_000)
    assert np.allclose(clock.country_cdf[:, -1], 1.0)


def test_online_buyers_are_located_near_home_not_at_it() -> None:
    df = small_day(rows=40_000).filter(~pl.col("is_fraud"), pl.col("channel") == "online")
    dist = df["distance_from_home_km"]
    assert (dist == 0).mean() < 0.01  # type: ignore[operator]
    assert 0.4 < (dist < 25).mean() < 0.9  # type: ignore[operator]  # fixed lines, near home
    assert (dist > 500).mean() > 0.01  # type: ignore[operator]  # VPNs and travellers
    # Most online shopping is domestic.
    cross = (df["merchant_country"] != df["country"]).mean()
    assert 0.05 < cross < 0.35  # type: ignore[operator]


def test_legit_travel_has_no_impossible_jumps() -> None:
    days = pl.concat(small_day(date(2025, 8, 4) + timedelta(days=i), rows=40_000) for i in range(4))
    cp = (
        days.filter(~pl.col("is_fraud"), pl.col("channel") != "online")
        .sort("card_id", "event_timestamp")
        .with_columns(
            dt_h=pl.col("event_timestamp").diff().dt.total_seconds().over("card_id") / 3600,
            lat0=pl.col("latitude").shift().over("card_id"),
            lon0=pl.col("longitude").shift().over("card_id"),
        )
        .drop_nulls("lat0")
    )
    # Equirectangular distance: plenty to tell 500 km from a few.
    lat, lon = cp["latitude"].to_numpy(), cp["longitude"].to_numpy()
    x = np.radians(lon - cp["lon0"].to_numpy()) * np.cos(np.radians(lat))
    y = np.radians(lat - cp["lat0"].to_numpy())
    km = 6371 * np.sqrt(x**2 + y**2)
    impossible = (km > 500) & (cp["dt_h"].to_numpy() < 1)
    assert impossible.mean() < 2e-4, impossible.sum()
    # Yet people do travel: some pairs are far apart (days apart).
    assert (km > 500).sum() > 10
