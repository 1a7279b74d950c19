"""Turn a Draft (indices and numbers) into the feed's polars DataFrame."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from fraud_detection.schema import (
    DEVICE_KEY_CHARS,
    DEVICE_KEY_PREFIX,
    SCHEMA,
)
from fraud_detection.simulator.cards import plastic_index
from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.keys import base32_keys, entity_keys_of, transaction_keys
from fraud_detection.simulator.population import Population
from fraud_detection.simulator.reference import BINS, CATEGORIES, COUNTRIES, EUR_RATE
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
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_BINS = pl.Series(BINS)
# How each category forms its prices (see price_minor).
FREE, CHARM, FARE, ROUND = range(4)
_RULES = {"5651": CHARM, "5732": CHARM, "5311": CHARM, "5977": CHARM, "5942": CHARM,
          "5944": CHARM, "5999": CHARM, "5815": CHARM, "5816": CHARM, "4899": CHARM,
          "4111": FARE, "7995": ROUND, "6051": ROUND, "8398": ROUND, "7832": CHARM}  # fmt: skip
PRICE_RULE = np.array([_RULES.get(c.mcc, FREE) for c in CATEGORIES])
FARES_MINOR = np.array([120, 150, 180, 200, 240, 280, 290, 320, 350, 400, 460, 520, 610, 790])
_FARE_MIDPOINTS = (FARES_MINOR[:-1] + FARES_MINOR[1:]) / 2


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    # a = sin²(dp/2) + cos p1 · cos p2 · sin²(dl/2), step by step in place: the same
    # operations in the same order, without a new array for each.
    for half in (dp, dl):
        np.divide(half, 2, out=half)
        np.sin(half, out=half)
        np.square(half, out=half)
    np.cos(p1, out=p1)
    np.cos(p2, out=p2)
    np.multiply(p1, p2, out=p1)
    np.multiply(p1, dl, out=p1)
    a = np.add(dp, p1, out=dp)
    np.minimum(a, 1.0, out=a)
    np.sqrt(a, out=a)
    return 2 * _EARTH_RADIUS_KM * np.arcsin(a, out=a)


def _dates(ordinals: np.ndarray) -> pl.Series:
    # int32 in numpy first: polars then takes the buffer as it is, with no checked cast.
    return pl.Series((ordinals - _EPOCH_ORDINAL).astype(np.int32)).cast(pl.Date)


def card_keys(seed: int, plastic: np.ndarray) -> pl.Series:
    """`K` keys of plastics: a slot's first plastic keeps the slot's own key."""
    return entity_keys_of(seed, "card", plastic)


def transaction_ids(seed: int, clock: DayClock, rows: np.ndarray) -> pl.Series:
    # A bijection of (day, row): unique within the day and across days, and no hint
    # of the row's position (or label). See keys.py.
    return transaction_keys(seed, clock.day, rows)


def device_ids(device: np.ndarray) -> pl.Series:
    """`D` + 11 base-32 characters of the token, null where there is no device (0)."""
    has = device != 0  # online rows only: format just those
    low_bits = device[has].astype(np.uint64) & np.uint64((1 << (5 * DEVICE_KEY_CHARS)) - 1)
    ids = base32_keys(low_bits, DEVICE_KEY_PREFIX, DEVICE_KEY_CHARS)
    # Row i takes the key of the devices before it; rows without one are nulled after.
    spread = (
        ids[np.maximum(np.cumsum(has) - 1, 0)]
        if len(ids)
        else ids.extend_constant(None, len(device))
    )
    return pl.select(pl.when(pl.Series(has)).then(spread)).to_series().alias("device_id")


def price_minor(category: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Amounts as prices are formed in each trade: shelf prices end in .99 or .49, fuel
    and groceries in any cent, fares come from a short fare table, top-ups and bets in
    round sums."""
    out = np.maximum(np.rint(local * 100.0), 1.0).astype(np.int64)
    rule = PRICE_RULE[category]
    # Each rule on its own rows only: most rows are FREE and keep their cents.
    charm = np.flatnonzero(rule == CHARM)
    whole = out[charm] // 100
    # The ending belongs to the price, not the payment: the same price ends the same way.
    v = (whole * 2_654_435_761 % 1_000) / 1_000.0
    ending = np.where(v < 0.55, 99, np.where(v < 0.75, 49, np.where(v < 0.9, 95, 0)))
    out[charm] = np.where(whole >= 1, whole * 100 + ending, out[charm])
    fare = np.flatnonzero(rule == FARE)  # the nearest fare; a tie goes to the lower one
    out[fare] = FARES_MINOR[np.searchsorted(_FARE_MIDPOINTS, out[fare], side="left")]
    rounds = np.flatnonzero(rule == ROUND)
    step = np.where(out[rounds] >= 5_000, 1_000, 500)
    out[rounds] = np.maximum(np.rint(out[rounds] / step), 1).astype(np.int64) * step
    return out


def to_frame(pop: Population, clock: DayClock, seed: int, d: Draft) -> pl.DataFrame:
    merchant_country = pop.merchant_country[d.merchant]
    rate = EUR_RATE[merchant_country]
    minor = price_minor(d.category, d.amount_eur * rate)
    amount_eur = np.round(minor / rate / 100.0, 2)
    plastic = plastic_index(d.card, d.version)
    opened = pop.account_opened[d.customer]
    distance = haversine_km(
        pop.home_lat[d.customer], pop.home_lon[d.customer], d.loc_lat, d.loc_lon
    )
    timestamps = clock.start_us + (d.seconds * 1e6).astype(np.int64)
    is_fraud = d.scenario >= 0

    # Series[index] gathers directly; Series.gather runs a one-expression query per call.
    frame = pl.DataFrame(
        {
            "transaction_id": transaction_ids(seed, clock, d.row),
            "event_timestamp": pl.Series(timestamps, dtype=pl.Int64).cast(
                SCHEMA["event_timestamp"]
            ),
            "customer_id": pop.customer_id[d.customer],
            "card_id": card_keys(seed, plastic),
            "card_bin": _BINS[pop.card_bin[d.card]],
            "card_issued_on": _dates(d.issued),
            "card_expiry": _dates(d.expiry),
            "account_opened_on": _dates(opened),
            "credit_limit_eur": pop.credit_limit[d.card],  # 0 (no limit) is nulled below
            "merchant_id": pop.merchant_id[d.merchant],
            "terminal_id": pop.terminal_id[d.terminal],
            "merchant_name": pop.merchant_name[d.merchant],
            "mcc": _MCC[d.category],
            "merchant_category": _CATEGORY[d.category],
            "merchant_country": _COUNTRY[merchant_country],
            "amount": minor,
            "currency": _CURRENCY[merchant_country],
            "amount_eur": amount_eur,
            "channel": _CODES["channel"][d.channel],
            "card_brand": _CODES["card_brand"][pop.card_brand[d.card]],
            "card_type": _CODES["card_type"][pop.card_type[d.card]],
            # 1e-5 degrees is about 1 m: the precision the places have; float32 keeps it.
            "latitude": np.round(d.loc_lat, 5).astype(np.float32),
            "longitude": np.round(d.loc_lon, 5).astype(np.float32),
            "city": pop.cities.name[d.loc_city],
            "country": _COUNTRY[pop.cities.country[d.loc_city]],
            # 100 m: finer than a home is known (city + jitter); 10 m cost 0.5 B/row more.
            "distance_from_home_km": np.round(distance, 1),
            "transaction_type": _CODES["transaction_type"][d.refund],
            "entry_mode": _CODES["entry_mode"][d.entry],
            "sca": d.sca.astype(bool),
            "device_id": device_ids(d.device),
            "auth_result": _CODES["auth_result"][(d.response > 0).astype(np.int8)],
            "response_code": _CODES["response_code"][d.response],
            "is_fraud": is_fraud,
            "fraud_scenario": _CODES["fraud_scenario"][np.maximum(d.scenario, 0)],
        }
    )
    return frame.with_columns(
        pl.when(pl.col("credit_limit_eur") > 0).then(pl.col("credit_limit_eur")),
        pl.when(pl.col("is_fraud")).then(pl.col("fraud_scenario")),
    )
