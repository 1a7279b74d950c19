"""The features step's computation on hand-made data: exact values and no leakage."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from fraud_detection.features.compute import (
    ENTITIES,
    WINDOWS_DAYS,
    add_features,
    feature_columns,
    history_days,
)

DAY = date(2025, 6, 12)
DELAY = 7
START = datetime(2025, 6, 12, tzinfo=UTC)


def payments(n: int = 600, *, seed: int = 7) -> pl.DataFrame:
    """Payments of few cards/customers/terminals over the 40 days up to DAY, many frauds."""
    rng = random.Random(seed)
    first = START - timedelta(days=history_days(DAY, DELAY) + 2)
    span = (START + timedelta(days=1) - first).total_seconds()
    rows = []
    for i in range(n):
        at = first + timedelta(seconds=int(rng.random() * span))
        if i % 50 == 0:  # a few exact ties on one card
            at = START + timedelta(hours=3)
        rows.append(
            {
                "transaction_id": f"tx{i:05d}",
                "event_timestamp": at,
                "customer_id": f"C{rng.randrange(4)}",
                "card_id": f"K{rng.randrange(6)}" if i % 50 else "K0",
                "terminal_id": f"T{rng.randrange(3)}",
                "amount_eur": round(rng.uniform(1, 500), 2),
                "is_fraud": rng.random() < 0.3,
            }
        )
    return pl.DataFrame(rows).with_columns(pl.col("event_timestamp").dt.cast_time_unit("us"))


def features(raw: pl.DataFrame, delay: int = DELAY) -> pl.DataFrame:
    return add_features(raw.lazy(), DAY, delay).collect()


def expected_row(raw: list[dict], row: dict, delay: int) -> dict[str, object]:
    """The definition, one loop per feature: windows [t - w, t) and [t - d - w, t - d)."""
    t = row["event_timestamp"]
    out: dict[str, object] = {
        "is_weekend": t.weekday() >= 5,
        "is_night": t.hour < 6,
    }
    for entity in ENTITIES:
        key = f"{entity}_id"
        for w in WINDOWS_DAYS:
            amounts = [
                r["amount_eur"]
                for r in raw
                if r[key] == row[key] and t - timedelta(days=w) <= r["event_timestamp"] < t
            ]
            out[f"{entity}_tx_count_{w}d"] = len(amounts)
            out[f"{entity}_amount_mean_{w}d"] = sum(amounts) / len(amounts) if amounts else 0.0
    d = timedelta(days=delay)
    for w in WINDOWS_DAYS:
        labels = [
            r["is_fraud"]
            for r in raw
            if r["terminal_id"] == row["terminal_id"]
            and t - d - timedelta(days=w) <= r["event_timestamp"] < t - d
        ]
        out[f"terminal_fraud_count_{w}d"] = sum(labels)
        out[f"terminal_risk_{w}d"] = sum(labels) / len(labels) if labels else 0.0
    return out


@pytest.mark.parametrize("delay", [DELAY, 0, 3])
def test_every_feature_equals_the_definition(delay: int) -> None:
    raw = payments()
    got = features(raw, delay)
    rows = raw.to_dicts()
    day_rows = [r for r in rows if r["event_timestamp"] >= START]
    assert got.height == len(day_rows) > 10
    by_id = {r["transaction_id"]: r for r in got.to_dicts()}
    for row in day_rows:
        want = expected_row(rows, row, delay)
        have = by_id[row["transaction_id"]]
        for name, value in want.items():
            assert have[name] == pytest.approx(value), (row["transaction_id"], name)
    assert set(got.columns) >= set(feature_columns())


def _changed(a: pl.DataFrame, b: pl.DataFrame, tx: str) -> list[str]:
    ra = a.filter(pl.col("transaction_id") == tx).select(feature_columns()).row(0, named=True)
    rb = b.filter(pl.col("transaction_id") == tx).select(feature_columns()).row(0, named=True)
    return [k for k in ra if ra[k] != pytest.approx(rb[k])]


def test_a_label_younger_than_the_delay_never_changes_a_feature() -> None:
    raw = payments()
    base = features(raw)
    targets = base.sample(15, seed=1)
    for tx, t in targets.select("transaction_id", "event_timestamp").iter_rows():
        young = pl.col("event_timestamp") >= t - timedelta(days=DELAY)
        flipped = raw.with_columns(pl.when(young).then(~pl.col("is_fraud")).otherwise("is_fraud"))
        assert flipped["is_fraud"].ne(raw["is_fraud"]).sum() > 0
        assert _changed(base, features(flipped), tx) == [], tx
    # and the test can fail: flipping the labels that are old enough does change the risk
    last = targets.sort("event_timestamp")[-1, "event_timestamp"]
    old = pl.col("event_timestamp") < pl.lit(last) - timedelta(days=DELAY)
    flipped = raw.with_columns(pl.when(old).then(~pl.col("is_fraud")).otherwise("is_fraud"))
    changed = _changed(
        base, features(flipped), targets.sort("event_timestamp")[-1, "transaction_id"]
    )
    assert any(name.startswith("terminal_fraud_count") for name in changed)


def test_the_row_itself_later_rows_and_ties_never_count() -> None:
    raw = payments()
    base = features(raw)
    for tx, t in base.sample(15, seed=2).select("transaction_id", "event_timestamp").iter_rows():
        now_or_later = pl.col("event_timestamp") >= t
        # change every amount and label at or after t (the row itself included), add later rows
        changed = raw.with_columns(
            pl.when(now_or_later).then(pl.col("amount_eur") * 10).otherwise("amount_eur"),
            pl.when(now_or_later).then(~pl.col("is_fraud")).otherwise("is_fraud"),
        )
        later = raw.filter(now_or_later).with_columns(
            pl.col("transaction_id") + "-later",
            pl.col("event_timestamp") + timedelta(microseconds=1),
        )
        result = features(pl.concat([changed, later]))
        assert _changed(base, result, tx) == [], tx


def test_same_microsecond_payments_do_not_see_each_other() -> None:
    got = features(payments())
    ties = got.filter(pl.col("event_timestamp") == START + timedelta(hours=3))
    assert ties.height >= 2
    assert ties["card_tx_count_1d"].n_unique() == 1


def test_only_the_day_is_output_and_history_outside_the_span_is_ignored() -> None:
    raw = payments()
    ancient = raw.with_columns(
        pl.col("event_timestamp") - timedelta(days=history_days(DAY, DELAY) + 5),
        pl.col("transaction_id") + "-ancient",
    )
    got = features(pl.concat([raw, ancient]))
    span = got.select(first=pl.col("event_timestamp").min(), last=pl.col("event_timestamp").max())
    assert span["first"][0] >= START
    assert span["last"][0] < START + timedelta(days=1)
    assert got.drop("transaction_id").equals(features(raw).drop("transaction_id"))
