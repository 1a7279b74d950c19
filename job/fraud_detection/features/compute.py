"""The features of each payment, from the payments before it: pure lazy polars, no I/O.

The Fraud Detection Handbook's baseline transformations, made point-in-time correct:

* per card, customer and terminal: how many payments and their mean amount (EUR) in the
  1, 7 and 30 days *before* the payment, i.e. over [t - w, t). The payment itself, later
  payments and payments at the same microsecond are never counted.
* per terminal: how many of its payments were fraud, and which share (the risk), over a window
  that ends `label_delay` before the payment: [t - delay - w, t - delay). A label is only
  known `label_delay` after its payment, so no label younger than the delay is used.
* is_weekend and is_night (00:00-05:59) of the payment's UTC timestamp.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import polars as pl

WINDOWS_DAYS = (1, 7, 30)
DEFAULT_LABEL_DELAY_DAYS = 7
ENTITIES = ("card", "customer", "terminal")
KEY_COLUMNS = ("transaction_id", "card_id", "customer_id", "terminal_id", "event_timestamp")
LABEL = "is_fraud"
# What the step reads from the raw feed (projection pushed down to the Parquet scan).
INPUT_COLUMNS = (*KEY_COLUMNS, "amount_eur", LABEL)
NIGHT_END_HOUR = 6


def history_days(day: date, label_delay_days: int) -> int:
    """Days before `day` whose payments can change a feature of `day`."""
    return max(WINDOWS_DAYS) + label_delay_days


def feature_columns() -> list[str]:
    """The feature columns, in output order (keys, label and amount come first)."""
    names = ["is_weekend", "is_night"]
    for entity in ENTITIES:
        for w in WINDOWS_DAYS:
            names += [f"{entity}_tx_count_{w}d", f"{entity}_amount_mean_{w}d"]
    for w in WINDOWS_DAYS:
        names += [f"terminal_fraud_count_{w}d", f"terminal_risk_{w}d"]
    return names


def output_columns() -> list[str]:
    return [*KEY_COLUMNS, LABEL, "amount_eur", *feature_columns()]


def _before(expr: pl.Expr, days: int, key: str) -> pl.Expr:
    """Sum of `expr` over the same key's payments in [t - days, t)."""
    return expr.rolling_sum_by("event_timestamp", window_size=f"{days}d", closed="left").over(key)


def add_features(
    history: pl.LazyFrame, day: date, label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS
) -> pl.LazyFrame:
    """One row per payment of `day` with its features; `history` holds `day` and the days before.

    Rows of `history` outside [day - history_days, day] are ignored, so passing more is harmless.
    Only the day's rows need a `transaction_id`: history rows may carry null there (cheaper).
    """
    if label_delay_days < 0:
        raise ValueError(f"label_delay_days must be >= 0, got {label_delay_days}")
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    first = start - timedelta(days=history_days(day, label_delay_days))
    ts = pl.col("event_timestamp")
    entity_keys = [f"{entity}_id" for entity in ENTITIES]
    frame = (
        history.select(INPUT_COLUMNS)
        .filter((ts >= first) & (ts < end))
        # Grouping 30+ days of rows by 20-character strings, 30 times, is what costs: group by
        # their categorical codes instead. Ties in time need no order: windows exclude them.
        .with_columns(pl.col(entity_keys).cast(pl.Categorical))
        .sort("event_timestamp")
        .with_columns(pl.lit(1, dtype=pl.Int64).alias("_one"))  # rolling sums need a column
    )
    one = pl.col("_one")
    amount = pl.col("amount_eur")
    fraud = pl.col(LABEL).cast(pl.Int64)
    columns: list[pl.Expr] = [
        (ts.dt.weekday() >= 6).alias("is_weekend"),  # polars: Monday 1 ... Sunday 7
        (ts.dt.hour() < NIGHT_END_HOUR).alias("is_night"),
    ]
    for entity in ENTITIES:
        key = f"{entity}_id"
        for w in WINDOWS_DAYS:
            count = _before(one, w, key)
            total = _before(amount, w, key)
            columns += [
                count.fill_null(0).alias(f"{entity}_tx_count_{w}d"),
                pl.when(count > 0)
                .then(total / count)
                .otherwise(0.0)
                .alias(f"{entity}_amount_mean_{w}d"),
            ]
    d = label_delay_days
    for w in WINDOWS_DAYS:
        # [t - d - w, t - d) as [t - d - w, t) minus [t - d, t): integer counts, exact.
        if d:
            tx = _before(one, d + w, "terminal_id") - _before(one, d, "terminal_id")
            frauds = _before(fraud, d + w, "terminal_id") - _before(fraud, d, "terminal_id")
        else:
            tx, frauds = _before(one, w, "terminal_id"), _before(fraud, w, "terminal_id")
        tx, frauds = tx.fill_null(0), frauds.fill_null(0)
        columns += [
            frauds.alias(f"terminal_fraud_count_{w}d"),
            pl.when(tx > 0).then(frauds / tx).otherwise(0.0).alias(f"terminal_risk_{w}d"),
        ]
    return (
        frame.with_columns(columns)
        .filter(ts >= start)
        .with_columns(pl.col(entity_keys).cast(pl.String))
        .select(output_columns())
        .sort("event_timestamp", "transaction_id")
    )
