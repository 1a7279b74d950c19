"""Turn a Draft (indices and numbers) into the feed's polars DataFrame."""

from __future__ import annotations

import numpy as np
import polars as pl

from fraud_detection.schema import (
    DEVICE_KEY_CHARS,
    DEVICE_KEY_PREFIX,
    SCHEMA,
)
from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.keys import base32_keys, transaction_keys
from fraud_detection.simulator.population import Population
from fraud_detection.simulator.reference import CATEGORIES, COUNTRIES, EUR_RATE
from fraud_detection.simulator.seeding import rng
from fraud_detection.simulator.transactions import Draft

_MCC = pl.Series([c.mcc for c in CATEGORIES])
_CATEGORY = pl.Series([c.name for c in CATEGORIES])
_COUNTRY = pl.Series([c.code for c in COUNTRIES])
_CURRENCY = pl.Series([c.currency for c in COUNTRIES])
# Each coded column's values as an Enum Series (schema.py): rows gather integer codes,
# with no string copies.
_CODES = {
    name: pl.Series(name, dtype.categories, dtype=dtype)
    for name, dtype in SCHEMA.items()
    if isinstance(dtype, pl.Enum)
}
_EARTH_RADIUS_KM = 6371.0088


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def transaction_ids(seed: int, clock: DayClock, rows: np.ndarray) -> pl.Series:
    # A bijection of (day, row): unique within the day and across days, and no hint
    # of the row's position (or label). See keys.py.
    return transaction_keys(seed, clock.day, rows)


def device_ids(device: np.ndarray) -> pl.Series:
    """`D` + 11 base-32 characters of the token, null where there is no device (0)."""
    has = np.flatnonzero(device)  # online rows only: format just those
    low_bits = device[has].astype(np.uint64) & np.uint64((1 << (5 * DEVICE_KEY_CHARS)) - 1)
    ids = base32_keys(low_bits, DEVICE_KEY_PREFIX, DEVICE_KEY_CHARS)
    return pl.Series("device_id", [None] * len(device), dtype=pl.String).scatter(has, ids)


def to_frame(pop: Population, clock: DayClock, seed: int, d: Draft) -> pl.DataFrame:
    n = len(d)
    block_salt = int(d.row[0]) if n else 0
    g = rng(seed, "format", clock.day, clock.rows, block_salt)
    merchant_country = pop.cities.country[pop.merchant_city[d.merchant]]
    rate = EUR_RATE[merchant_country]
    minor = np.maximum(np.rint(d.amount_eur * rate * 100.0), 1.0).astype(np.int64)
    # Charm pricing: a quarter of tickets end in .99, like real price tags.
    charm = (g.random(n) < 0.25) & (minor >= 100)
    minor = np.where(charm, (minor // 100) * 100 + 99, minor)
    amount_eur = np.round(minor / rate / 100.0, 2)
    distance = haversine_km(
        pop.home_lat[d.customer], pop.home_lon[d.customer], d.loc_lat, d.loc_lon
    )
    timestamps = clock.start_us + (d.seconds * 1e6).astype(np.int64)
    is_fraud = d.scenario >= 0

    frame = pl.DataFrame(
        {
            "transaction_id": transaction_ids(seed, clock, d.row),
            "event_timestamp": pl.Series(timestamps, dtype=pl.Int64).cast(
                SCHEMA["event_timestamp"]
            ),
            "customer_id": pop.customer_id.gather(d.customer),
            "card_id": pop.card_id.gather(d.card),
            "merchant_id": pop.merchant_id.gather(d.merchant),
            "terminal_id": pop.terminal_id.gather(d.terminal),
            "merchant_name": pop.merchant_name.gather(d.merchant),
            "mcc": _MCC.gather(d.category),
            "merchant_category": _CATEGORY.gather(d.category),
            "merchant_country": _COUNTRY.gather(merchant_country),
            "amount": minor,
            "currency": _CURRENCY.gather(merchant_country),
            "amount_eur": amount_eur,
            "channel": _CODES["channel"].gather(d.channel),
            "card_brand": _CODES["card_brand"].gather(pop.card_brand[d.card]),
            "card_type": _CODES["card_type"].gather(pop.card_type[d.card]),
            # 1e-5 degrees is about 1 m: the precision the places have; float32 keeps it.
            "latitude": np.round(d.loc_lat, 5).astype(np.float32),
            "longitude": np.round(d.loc_lon, 5).astype(np.float32),
            "city": pop.cities.name.gather(d.loc_city),
            "country": _COUNTRY.gather(pop.cities.country[d.loc_city]),
            # 100 m: finer than a home is known (city + jitter); 10 m cost 0.5 B/row more.
            "distance_from_home_km": np.round(distance, 1),
            "transaction_type": _CODES["transaction_type"].gather(d.refund),
            "entry_mode": _CODES["entry_mode"].gather(d.entry),
            "sca": d.sca.astype(bool),
            "device_id": device_ids(d.device),
            "auth_result": _CODES["auth_result"].gather(d.declined),
            "is_fraud": is_fraud,
            "fraud_scenario": _CODES["fraud_scenario"].gather(np.maximum(d.scenario, 0)),
        }
    )
    return frame.with_columns(
        pl.when(pl.col("is_fraud"))
        .then(pl.col("fraud_scenario"))
        .otherwise(None)
        .alias("fraud_scenario")
    )
