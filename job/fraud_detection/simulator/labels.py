"""The labels feed: when each fraud becomes known, as a pure function of the days.

A fraud payment is reported by the cardholder or disputed by the issuer days to
weeks later (a long tail to REPORT_HORIZON_DAYS), or never. A few genuine payments
are reported too (friendly fraud: the cardholder disputes a purchase they made).
The reports made on day D cover payments of D-120 … D-1; D recomputes only where
those days' fraud sits (`fraud_rows`), never their payments.

The recomputation assumes the earlier days were generated with the same rows,
fraud rate and profile as day D (a daily feed with fixed settings).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from fraud_detection.schema import REPORT_SCHEMA, REPORT_TYPES
from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.fraud import fraud_rows
from fraud_detection.simulator.keys import transaction_keys
from fraud_detection.simulator.profiles import Profile
from fraud_detection.simulator.seeding import rng

REPORT_HORIZON_DAYS = 120
# Per scenario (FRAUD_SCENARIOS order): share never reported, median delay in days.
# Tiny test charges often go unnoticed; takeovers are noticed fast.
NEVER_REPORTED = np.array([0.06, 0.08, 0.55, 0.05])
MEDIAN_DELAY_DAYS = np.array([12.0, 7.0, 20.0, 4.0])
DELAY_SIGMA = 0.9  # log-normal spread: most reports within 1–30 days, a tail to 120
FRIENDLY_SHARE = 0.05  # false reports on genuine payments, per fraud payment on average
FRIENDLY_MEDIAN_DAYS = 35.0  # disputes of genuine purchases come with the statement
CHARGEBACK_SHARE = 0.6
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _delays(g: np.random.Generator, median: np.ndarray) -> np.ndarray:
    """Days until the report; beyond the horizon it never comes (returned as 0)."""
    days = np.ceil(median * np.exp(DELAY_SIGMA * g.standard_normal(len(median))))
    return np.where(days <= REPORT_HORIZON_DAYS, np.maximum(days, 1), 0).astype(np.int64)


def reported_rows(
    seed: int, clock: DayClock, rate: float, profile: Profile
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, delay_days, report_type index) of every report ever made on a day's payments."""
    row, scenario = fraud_rows(seed, clock, rate, profile)
    g = rng(seed, "reports", clock.day, clock.rows)
    never = g.random(len(row)) < NEVER_REPORTED[scenario]
    delay = np.where(never, 0, _delays(g, MEDIAN_DELAY_DAYS[scenario]))
    kind = (g.random(len(row)) >= CHARGEBACK_SHARE).astype(np.int8)
    # Friendly fraud: genuine payments disputed later, by chargeback.
    f = rng(seed, "friendly-fraud", clock.day, clock.rows)
    k = f.poisson(clock.rows * rate * FRIENDLY_SHARE)
    friendly = np.setdiff1d(f.integers(0, clock.rows, k), row)
    f_delay = _delays(f, np.full(len(friendly), FRIENDLY_MEDIAN_DAYS))
    reported = delay > 0
    return (
        np.concatenate([row[reported], friendly]),
        np.concatenate([delay[reported], f_delay]),
        np.concatenate([kind[reported], np.zeros(len(friendly), np.int8)]),
    )


def reports_on(seed: int, day: date, rows: int, rate: float, profile: Profile) -> pl.DataFrame:
    """The reports made on `day`, ordered by the payment's day and row."""
    ids: list[pl.Series] = []
    payment_day: list[np.ndarray] = []
    delays: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    for back in range(REPORT_HORIZON_DAYS, 0, -1):  # oldest payments first
        clock = DayClock.for_day(day - timedelta(days=back), rows)
        row, delay, kind = reported_rows(seed, clock, rate, profile)
        due = np.flatnonzero(delay == back)
        order = due[np.argsort(row[due])]
        ids.append(transaction_keys(seed, clock.day, row[order]))
        payment_day.append(np.full(len(order), clock.day.toordinal() - _EPOCH_ORDINAL))
        delays.append(np.full(len(order), back, dtype=np.int32))
        kinds.append(kind[order])
    paid = pl.Series("payment_date", np.concatenate(payment_day), dtype=pl.Int32).cast(pl.Date)
    frame = pl.DataFrame(
        {
            "transaction_id": pl.concat(ids),
            "payment_date": paid,
            "reported_on": pl.Series([day], dtype=pl.Date).new_from_index(0, len(paid)),
            "delay_days": pl.Series(np.concatenate(delays), dtype=pl.Int32),
            "report_type": pl.Series(list(REPORT_TYPES)).gather(np.concatenate(kinds)),
        }
    )
    return frame.select(list(REPORT_SCHEMA))
