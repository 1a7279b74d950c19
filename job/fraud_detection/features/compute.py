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


def _running_totals(rows: pl.LazyFrame, key: str, with_fraud: bool) -> pl.LazyFrame:
    """Per key, in time order: payments, amount and frauds so far (this row included)."""
    totals = [
        pl.col("event_timestamp").cum_count().over(key).cast(pl.Int64).alias("_n"),
        pl.col("amount_eur").cum_sum().over(key).alias("_amount"),
    ]
    if with_fraud:
        totals.append(pl.col(LABEL).cast(pl.Int64).cum_sum().over(key).alias("_fraud"))
    return (
        rows.select(key, "event_timestamp", "amount_eur", LABEL)
        .with_columns(totals)
        .select(key, pl.col("event_timestamp").alias("_at"), pl.col("^_(n|amount|fraud)$"))
    )


def _totals_before(
    frame: pl.LazyFrame, totals: pl.LazyFrame, key: str, back: timedelta, tag: str
) -> pl.LazyFrame:
    """Adds the key's running totals over payments strictly before t - back, as `<total>_<tag>`.

    An as-of join: the last of the key's payments earlier than the cut-off (never one at it).
    """
    cut = (pl.col("event_timestamp") - back).set_sorted().alias("_cut")
    names = {
        name: f"{name}_{tag}"
        for name in totals.collect_schema().names()
        if name[1:] in {"n", "amount", "fraud"}
    }
    return (
        frame.with_columns(cut)
        .join_asof(
            totals, left_on="_cut", right_on="_at", by=key, strategy="backward",
            allow_exact_matches=False, check_sortedness=False,
        )
        .drop("_cut", "_at")
        .rename(names)
        .with_columns(pl.col(list(names.values())).fill_null(0))
    )  # fmt: skip


def add_features(
    history: pl.LazyFrame, day: date, label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS
) -> pl.LazyFrame:
    """One row per payment of `day` with its features; `history` holds `day` and the days before.

    Rows of `history` outside [day - history_days, day] are ignored, so passing more is harmless.
    Only the day's rows need a `transaction_id`: history rows may carry null there (cheaper).

    Each count or sum over a window [a, b) is a difference of running totals taken just before
    b and just before a, found by as-of joins: the work per window is on the day's rows only,
    never on the 30+ days of history.
    """
    if label_delay_days < 0:
        raise ValueError(f"label_delay_days must be >= 0, got {label_delay_days}")
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    first = start - timedelta(days=history_days(day, label_delay_days))
    ts = pl.col("event_timestamp")
    entity_keys = [f"{entity}_id" for entity in ENTITIES]
    rows = (
        history.select(INPUT_COLUMNS)
        .filter((ts >= first) & (ts < end))
        # Joining 30+ days of rows on 20-character strings is what costs: use categorical codes.
        .with_columns(pl.col(entity_keys).cast(pl.Categorical))
        .sort("event_timestamp")  # ties need no order: every window excludes them
    )
    frame = rows.filter(ts >= start).with_columns(
        (ts.dt.weekday() >= 6).alias("is_weekend"),  # polars: Monday 1 ... Sunday 7
        (ts.dt.hour() < NIGHT_END_HOUR).alias("is_night"),
    )
    delay = timedelta(days=label_delay_days)
    columns: list[pl.Expr] = []
    for entity in ENTITIES:
        key = f"{entity}_id"
        totals = _running_totals(rows, key, with_fraud=entity == "terminal")
        cuts = {"now": timedelta(0), **{f"{w}d": timedelta(days=w) for w in WINDOWS_DAYS}}
        if entity == "terminal":
            cuts |= {
                "delay": delay,
                **{f"delay_{w}d": delay + timedelta(days=w) for w in WINDOWS_DAYS},
            }
        for tag, back in cuts.items():
            frame = _totals_before(frame, totals, key, back, f"{entity}_{tag}")
        for w in WINDOWS_DAYS:
            count = pl.col(f"_n_{entity}_now") - pl.col(f"_n_{entity}_{w}d")
            total = pl.col(f"_amount_{entity}_now") - pl.col(f"_amount_{entity}_{w}d")
            columns += [
                count.alias(f"{entity}_tx_count_{w}d"),
                pl.when(count > 0).then(total / count).otherwise(0.0).alias(f"{entity}_amount_mean_{w}d"),
            ]  # fmt: skip
    for w in WINDOWS_DAYS:
        # [t - delay - w, t - delay): only labels at least `delay` old.
        tx = pl.col("_n_terminal_delay") - pl.col(f"_n_terminal_delay_{w}d")
        frauds = pl.col("_fraud_terminal_delay") - pl.col(f"_fraud_terminal_delay_{w}d")
        columns += [
            frauds.alias(f"terminal_fraud_count_{w}d"),
            pl.when(tx > 0).then(frauds / tx).otherwise(0.0).alias(f"terminal_risk_{w}d"),
        ]
    return (
        frame.with_columns(columns)
        .with_columns(pl.col(entity_keys).cast(pl.String))
        .select(output_columns())
        .sort("event_timestamp", "transaction_id")
    )
