"""Data checks before anything is published, with dataframely (polars-native).

Row-level rules run on every block as it is generated (`SliceStats.add`); day-level
checks (row count, fraud-rate band) run on the totals before upload. A failure
publishes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import dataframely as dy
import numpy as np
import polars as pl

from fraud_detection.errors import ValidationFailed
from fraud_detection.schema import (
    AUTH_RESULTS,
    CARD_BRANDS,
    CARD_TYPES,
    CASE_KEY_CHARS,
    CASE_KEY_PREFIX,
    CHANNELS,
    DEVICE_KEY_CHARS,
    DEVICE_KEY_PREFIX,
    ENTRY_MODES,
    FRAUD_SCENARIOS,
    KEY_LENGTH,
    KEY_PREFIX,
    REPORT_SCHEMA,
    REPORT_TYPES,
    RESPONSE_CODES,
    SCHEMA,
    TRANSACTION_TYPES,
)

_DEVICE_LENGTH = len(DEVICE_KEY_PREFIX) + DEVICE_KEY_CHARS
_CASE_LENGTH = len(CASE_KEY_PREFIX) + CASE_KEY_CHARS


def _key(name: str) -> dy.String:
    """A key column: its fixed width (the prefix is a rule below)."""
    return dy.String(min_length=KEY_LENGTH[name], max_length=KEY_LENGTH[name])


# What the fingerprint hashes: each row's key, time, amount, place and label. The
# entity-key strings are left out: hashing them cost as much as generating them.
FINGERPRINT_COLUMNS = (
    "transaction_id", "event_timestamp", "amount", "amount_eur", "latitude", "longitude",
    "distance_from_home_km", "response_code", "is_fraud", "fraud_scenario",
)  # fmt: skip


class PaymentsSchema(dy.Schema):
    # Length and prefix checks, not regexes: regexes cost as much as generating the
    # rows. Coded columns are Enums: their type admits only the known values.
    # Uniqueness of transaction_id holds by construction (a bijective hash of
    # the row index) and is covered by the unit tests rather than re-hashed here.
    transaction_id = _key("transaction_id")
    event_timestamp = dy.Datetime(time_zone="UTC", time_unit="us")
    customer_id = _key("customer_id")
    card_id = _key("card_id")
    card_bin = dy.String(min_length=6, max_length=6)
    card_issued_on = dy.Date()
    card_expiry = dy.Date()
    account_opened_on = dy.Date()
    credit_limit_eur = dy.Int32(nullable=True, min=1)
    merchant_id = _key("merchant_id")
    terminal_id = _key("terminal_id")
    merchant_name = dy.String(min_length=1)
    mcc = dy.String(min_length=4, max_length=4)
    merchant_category = dy.String(min_length=1)
    merchant_country = dy.String(min_length=2, max_length=2)
    amount = dy.Int64(min=1)
    currency = dy.String(min_length=3, max_length=3)
    amount_eur = dy.Float64(min=0.0)
    channel = dy.Enum(CHANNELS)
    card_brand = dy.Enum(CARD_BRANDS)
    card_type = dy.Enum(CARD_TYPES)
    latitude = dy.Float32(min=-90.0, max=90.0)
    longitude = dy.Float32(min=-180.0, max=180.0)
    city = dy.String(min_length=1)
    country = dy.String(min_length=2, max_length=2)
    distance_from_home_km = dy.Float64(min=0.0)
    transaction_type = dy.Enum(TRANSACTION_TYPES)
    entry_mode = dy.Enum(ENTRY_MODES)
    sca = dy.Bool()
    device_id = dy.String(nullable=True, min_length=_DEVICE_LENGTH, max_length=_DEVICE_LENGTH)
    auth_result = dy.Enum(AUTH_RESULTS)
    response_code = dy.Enum(RESPONSE_CODES)
    is_fraud = dy.Bool()
    fraud_scenario = dy.Enum(FRAUD_SCENARIOS, nullable=True)

    @dy.rule()
    def ids_carry_their_prefix(cls) -> pl.Expr:
        return pl.all_horizontal(
            pl.col(name).str.starts_with(prefix) for name, prefix in KEY_PREFIX.items()
        )

    @dy.rule()
    def mcc_is_four_digits(cls) -> pl.Expr:
        return pl.col("mcc").str.to_integer(strict=False).is_not_null()

    @dy.rule()
    def device_only_online(cls) -> pl.Expr:
        return pl.col("device_id").is_null() == (pl.col("channel") != "online")

    @dy.rule()
    def scenario_set_exactly_when_fraud(cls) -> pl.Expr:
        return pl.col("fraud_scenario").is_not_null() == pl.col("is_fraud")

    @dy.rule()
    def approved_exactly_when_code_00(cls) -> pl.Expr:
        return (pl.col("auth_result") == "approved") == (pl.col("response_code") == "00")

    @dy.rule()
    def credit_limit_exactly_on_credit_cards(cls) -> pl.Expr:
        return pl.col("credit_limit_eur").is_not_null() == (pl.col("card_type") == "credit")

    @dy.rule()
    def card_live_and_account_open(cls) -> pl.Expr:
        day = pl.col("event_timestamp").dt.date()
        return (
            (pl.col("account_opened_on") <= day)
            & (pl.col("card_issued_on") <= day)
            & (day < pl.col("card_expiry").dt.offset_by("1mo"))
        )


class ReportsSchema(dy.Schema):
    """The labels feed: fraud reports made on the partition's day."""

    transaction_id = _key("transaction_id")
    payment_date = dy.Date()
    reported_on = dy.Date()
    delay_days = dy.Int32(min=1, max=120)
    report_type = dy.String(min_length=1)
    case_id = dy.String(min_length=_CASE_LENGTH, max_length=_CASE_LENGTH)
    reason_code = dy.String(nullable=True, min_length=2, max_length=4)

    @dy.rule()
    def reason_code_exactly_on_chargebacks(cls) -> pl.Expr:
        return pl.col("reason_code").is_not_null() == (pl.col("report_type") == "chargeback")

    @dy.rule()
    def delay_matches_the_dates(cls) -> pl.Expr:
        return (pl.col("reported_on") - pl.col("payment_date")).dt.total_days() == pl.col(
            "delay_days"
        )

    @dy.rule()
    def report_type_is_known(cls) -> pl.Expr:
        return pl.col("report_type").is_in(REPORT_TYPES)


def validate_reports(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    """The labels feed's day: its schema, its rules, and every report made on `day`."""
    if frame.schema != REPORT_SCHEMA:
        raise ValidationFailed(
            f"fraud_reports schema check failed: {dict(frame.schema)} is not {dict(REPORT_SCHEMA)}"
        )
    _, failures = ReportsSchema.filter(frame, cast=False)
    counts = dict(failures.counts())
    off_day = frame.height - int((frame["reported_on"] == day).sum())
    if off_day:
        counts["reported_on_is_the_day"] = off_day
    if counts:
        broken = ", ".join(f"{rule}: {n} rows" for rule, n in sorted(counts.items()))
        raise ValidationFailed(f"fraud_reports check failed before upload ({broken})")
    return frame


@lru_cache(maxsize=8)
def schema_for_day(day: date) -> type[PaymentsSchema]:
    """The schema with the day's time window: [00:00, 24:00) UTC."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    window = dy.Datetime(
        time_zone="UTC", time_unit="us", min=start, max_exclusive=start + timedelta(days=1)
    )
    return type(f"PaymentsOn{day:%Y%m%d}", (PaymentsSchema,), {"event_timestamp": window})


def describe_schema_difference(actual: pl.Schema) -> str:
    missing = [c for c in SCHEMA if c not in actual]
    extra = [c for c in actual if c not in SCHEMA]
    retyped = [
        f"{c} is {actual[c]}, not {t}" for c, t in SCHEMA.items() if c in actual and actual[c] != t
    ]
    parts = []
    if missing:
        parts.append(f"missing columns {missing}")
    if extra:
        parts.append(f"unexpected columns {extra}")
    if retyped:
        parts.append("; ".join(retyped))
    return "; ".join(parts) or "columns out of order"


def validate_block(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    if frame.schema != SCHEMA:
        raise ValidationFailed(f"schema check failed: {describe_schema_difference(frame.schema)}")
    schema = schema_for_day(day)
    _, failures = schema.filter(frame, cast=False)
    counts = failures.counts()
    if counts:
        broken = ", ".join(f"{rule}: {n} rows" for rule, n in sorted(counts.items()))
        raise ValidationFailed(f"data check failed before upload ({broken})")
    return frame


@dataclass
class Totals:
    rows: int = 0
    fraud_rows: int = 0

    def add(self, frame: pl.DataFrame) -> None:
        self.rows += frame.height
        self.fraud_rows += int(frame["is_fraud"].sum())

    @property
    def fraud_rate(self) -> float:
        return self.fraud_rows / self.rows if self.rows else 0.0


@dataclass
class SliceStats:
    """Checks each block of a slice and keeps its totals and row fingerprint."""

    day: date
    totals: Totals = field(default_factory=Totals)
    blocks: int = 0
    _fingerprint: np.uint64 = field(default_factory=lambda: np.uint64(0))

    def add(self, frame: pl.DataFrame) -> None:
        validate_block(frame, self.day)
        self.blocks += 1
        self.totals.add(frame)
        hashes = frame.select(FINGERPRINT_COLUMNS).hash_rows(seed=0).to_numpy()
        with np.errstate(over="ignore"):
            self._fingerprint += hashes.sum(dtype=np.uint64)

    @property
    def fingerprint(self) -> str:
        """Order-independent hash of the rows: the same rows give the same value."""
        return f"{int(self._fingerprint):016x}"


# Fraud comes in campaigns: a day's volume swings around the target (over two years of
# days: 0.5x to 2.2x, daily CV about 0.25). The band catches broken runs, not campaigns.
FRAUD_BAND = (0.25, 4.0)


def fraud_band(rows: int, target_rate: float) -> tuple[int, int]:
    """Accepted fraud-row count: 0.25x to 4x the target, widened for small samples."""
    expected = rows * target_rate
    slack = 4.0 * math.sqrt(expected) + 3.0
    low = max(0, math.floor(FRAUD_BAND[0] * expected - slack))
    return low, math.ceil(FRAUD_BAND[1] * expected + slack)


def check_totals(totals: Totals, expected_rows: int, target_rate: float) -> None:
    if totals.rows != expected_rows:
        raise ValidationFailed(
            f"row count check failed: generated {totals.rows}, expected {expected_rows}"
        )
    low, high = fraud_band(expected_rows, target_rate)
    if not low <= totals.fraud_rows <= high:
        raise ValidationFailed(
            f"fraud-rate check failed: {totals.fraud_rows} fraud rows of {totals.rows} "
            f"({totals.fraud_rate:.4%}), expected {low}..{high} for target {target_rate:.4%}"
        )
