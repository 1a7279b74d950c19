"""The labels feed: fraud cases as they are reported, a pure function of the days.

A fraud case (episode.py) is reported once, on the day its investigation closes: an
investigated issuer alert within days (the fast lane), a cardholder's call or a
statement dispute after weeks, with a tail to REPORT_HORIZON_DAYS; some cases never.
Every payment of the case is reported that day: approved ones as chargebacks with the
network's reason code, declined attempts as fraud reports (no money moved). Friendly
fraud (genuine purchases disputed later) arrives as chargebacks too.

The reports made on day D are recomputed from the episode schedule and the planned
rows of earlier days, never from their payments, so "labels known on day D" can be
rebuilt for any D. The recomputation assumes the earlier days were generated with the
same settings as day D (a daily feed with fixed settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from fraud_detection.schema import (
    CASE_KEY_CHARS,
    CASE_KEY_PREFIX,
    REPORT_SCHEMA,
    REPORT_TYPES,
)
from fraud_detection.simulator.cards import T0
from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.episodes import (
    REPORT_HORIZON_DAYS,
    Regime,
    attempts_on,
    lifecycle,
)
from fraud_detection.simulator.fraud import (
    attempt_rows,
    disputes,
    first_of_each,
    render_attempts,
    version_at,
)
from fraud_detection.simulator.keys import base32_keys, permute, transaction_keys
from fraud_detection.simulator.portfolio import portfolio_for
from fraud_detection.simulator.reference import ONLINE
from fraud_detection.simulator.seeding import rng, salt_for

# Reason codes by brand (CARD_BRANDS order): fraud card-present, fraud card-absent,
# and a cardholder dispute (goods not received, a cancelled subscription).
FRAUD_CP = np.array(["10.3", "4837", "F24"])
FRAUD_CNP = np.array(["10.4", "4837", "F29"])
DISPUTE = np.array(["13.1", "4853", "C08"])
FRIENDLY_AS_FRAUD = 0.6  # friendly fraud mostly claims "I did not make this payment"
DISPUTE_MEDIAN_DAYS = 35.0  # disputes of genuine purchases come with the statement
DISPUTE_SIGMA = 0.5
_DISPUTE_KEYS = 1 << 45


@dataclass(frozen=True)
class DayReports:
    """The reports made on one day about the planned rows of one payment day."""

    row: np.ndarray
    case: np.ndarray  # case key (episode key, or a dispute's own)
    approved: np.ndarray
    reason: np.ndarray  # reason code (str)


def _business_day(ordinal: np.ndarray) -> np.ndarray:
    weekday = (ordinal - 1) % 7
    return ordinal + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))


def day_reports(reg: Regime, payment_day: date, asof: date) -> DayReports:
    """The reports made on `asof` about one payment day's fraud attempts and disputed
    purchases."""
    pf = portfolio_for(reg.seed, reg.population, reg.rows)
    pop = pf.pop
    clock = DayClock.for_day(payment_day, reg.rows)
    life = lifecycle(reg, asof)
    eps, att = attempts_on(reg, payment_day)
    dispute = disputes(pf, clock)
    version_at(pf, life, clock, dispute)  # a blocked card declines it: nothing to dispute
    # One payment per row, the fraud plan's first (as plan_day): every attempt's row counts.
    rows = np.concatenate([attempt_rows(clock, att), dispute.row])
    kept = np.zeros(len(rows), dtype=bool)
    kept[first_of_each(rows)] = True
    # Of the attempts, only those of the cases reported on `asof` are rendered (the
    # fields a report needs are the attempt's own, see render_attempts).
    due = np.flatnonzero(kept[: len(att.time)] & (eps.report_day[att.episode] == asof.toordinal()))
    kept = np.concatenate([kept[due], kept[len(att.time) :]])
    att = att.take(due)
    fraud = render_attempts(pf, life, clock, eps, att)
    nf = len(fraud.row)
    brand = pop.card_brand[np.concatenate([fraud.card, dispute.card])]
    cnp = np.concatenate([fraud.channel, dispute.channel]) == ONLINE
    reason = np.where(cnp, FRAUD_CNP[brand], FRAUD_CP[brand])
    g = rng(reg.seed, "dispute-report", payment_day, reg.rows)
    k = len(dispute.row)
    delay = np.ceil(DISPUTE_MEDIAN_DAYS * np.exp(DISPUTE_SIGMA * g.standard_normal(k)))
    friendly = np.where(g.random(k) < FRIENDLY_AS_FRAUD, reason[nf:], DISPUTE[brand[nf:]])
    reason[nf:] = friendly
    dispute_day = _business_day(payment_day.toordinal() + delay.astype(np.int64))
    dispute_key = _DISPUTE_KEYS + (payment_day.toordinal() - T0) * (1 << 20) + np.arange(k)
    approved = np.concatenate([fraud.response, dispute.response]) == 0
    reported = np.concatenate([eps.report_day[att.episode], dispute_day])
    # A dispute needs money to have moved; a fraud case covers declined attempts too.
    reported[nf:] = np.where(approved[nf:], reported[nf:], 0)
    case = np.concatenate([eps.key[att.episode], dispute_key])
    row = np.concatenate([fraud.row, dispute.row])
    sel = np.flatnonzero(kept & (reported == asof.toordinal()))
    return DayReports(row[sel], case[sel], approved[sel], reason[sel])


def case_keys(seed: int, case: np.ndarray) -> pl.Series:
    bits = 5 * CASE_KEY_CHARS
    mixed = permute(case.astype(np.uint64), bits, salt_for(seed, "keys", "case"))
    return base32_keys(mixed, CASE_KEY_PREFIX, CASE_KEY_CHARS).alias("case_id")


def reports_on(reg: Regime, day: date) -> pl.DataFrame:
    """The reports made on `day`, ordered by the payment's day and row."""
    frames: list[pl.DataFrame] = []
    # Cases and disputes are reported on business days only: a weekend has no reports.
    days_back = range(REPORT_HORIZON_DAYS, 0, -1) if day.weekday() < 5 else range(0)
    for back in days_back:  # oldest payments first
        paid = day - timedelta(days=back)
        reports = day_reports(reg, paid, day)
        if not len(reports.row):
            continue
        due = np.argsort(reports.row, kind="stable")
        approved = reports.approved[due]
        n = len(due)
        frames.append(
            pl.DataFrame(
                {
                    "transaction_id": transaction_keys(reg.seed, paid, reports.row[due]),
                    "payment_date": pl.Series([paid], dtype=pl.Date).new_from_index(0, n),
                    "reported_on": pl.Series([day], dtype=pl.Date).new_from_index(0, n),
                    "delay_days": pl.Series(np.full(n, back), dtype=pl.Int32),
                    "report_type": pl.Series(list(REPORT_TYPES)).gather(np.where(approved, 0, 1)),
                    "case_id": case_keys(reg.seed, reports.case[due]),
                    "reason_code": pl.Series(reports.reason[due].astype(str)).scatter(
                        np.flatnonzero(~approved), None
                    ),
                }
            )
        )
    if not frames:
        return pl.DataFrame(schema=REPORT_SCHEMA)
    return pl.concat(frames).select(list(REPORT_SCHEMA))
