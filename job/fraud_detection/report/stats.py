"""The report's numbers from published frames: pure polars, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import polars as pl

from fraud_detection.report.reference import (
    BASELINE_DAYS,
    CALIBRATED_PROFILE,
    CALIBRATION_FACTOR,
    COUNTRY_TZ,
    DRIFT_BINS,
    PSI_AMBER,
    PSI_RED,
    PUBLISHED_FRAUD_SHARE,
)
from fraud_detection.schema import CHANNELS, COLUMNS, FILE_SCHEMA, FRAUD_SCENARIOS
from fraud_detection.validation import PaymentsSchema, fraud_band

Level = Literal["green", "amber", "red"]
LEVELS: tuple[Level, ...] = ("green", "amber", "red")

# What the report reads from each payments day (projection pushed down to the scan).
COLUMNS_READ = (
    "event_timestamp", "amount_eur", "mcc", "merchant_category", "merchant_country",
    "channel", "entry_mode", "card_brand", "card_type", "country", "distance_from_home_km",
    "transaction_type", "auth_result", "sca", "is_fraud", "fraud_scenario",
)  # fmt: skip
# Drift is measured on these: coded columns by category, numbers by quantile bins.
DRIFT_NUMERIC = ("amount_eur", "distance_from_home_km")
DRIFT_CODED = tuple(
    c for c in COLUMNS_READ if c not in DRIFT_NUMERIC and c not in ("event_timestamp", "is_fraud")
)


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class DayReport:
    day: date
    manifest: dict[str, Any]
    days: list[date]  # the window shown, oldest first
    rows: list[int | None]  # per day of `days`; None: not published
    fraud_by_channel: dict[str, list[float | None]]  # % of the channel's payments
    fraud_by_scenario: dict[str, list[float | None]]  # % of all payments
    mcc: pl.DataFrame  # merchant_category, amount_eur, payments, fraud_share
    hourly_today: list[float]  # share of the day's payments per local hour
    hourly_baseline: list[float]
    delays: pl.DataFrame | None  # delay_days, reports
    psi: dict[str, float]
    calibration: dict[str, float]  # count/value share of the day
    profile: str
    checks: list[Check]
    findings: list[Finding] = field(default_factory=list)

    @property
    def level(self) -> Level:
        worst = max((LEVELS.index(f.level) for f in self.findings), default=0)
        return LEVELS[worst]


def _pct(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole else None


# Per day, at most this many rows of each numeric column feed the drift's deciles.
NUMERIC_SAMPLE = 50_000


@dataclass(frozen=True)
class DaySummary:
    """One day's aggregates: all the report keeps of a day, whatever its size."""

    day: date
    rows: int
    fraud_rows: int
    amount_eur: float
    fraud_amount_eur: float
    channel: dict[str, tuple[int, int]]  # channel -> (payments, frauds)
    scenario: dict[str, int]  # scenario -> frauds
    values: dict[str, dict[Any, int]]  # coded column -> value -> payments
    numeric: dict[str, np.ndarray]  # numeric column -> an even sample of its values
    local_hours: list[int]  # payments per hour of the merchant country's clock


def _counts(frame: pl.DataFrame) -> dict[Any, int]:
    return {row[0]: int(row[1]) for row in frame.iter_rows()}


def local_hour_counts(by_hour: pl.DataFrame) -> list[int]:
    """Payments per local hour, from counts per (merchant_country, UTC hour)."""
    counts = [0] * 24
    for country, zone in COUNTRY_TZ.items():
        part = by_hour.filter(pl.col("merchant_country") == country)
        local = part.select(pl.col("hour").dt.convert_time_zone(zone).dt.hour(), "len")
        for hour, n in local.iter_rows():
            counts[hour] += n
    return counts


def summarise(payments: pl.LazyFrame, day: date) -> DaySummary:
    """A day's aggregates from its rows (a lazy scan: only aggregates are collected)."""
    fraud = pl.col("is_fraud")
    totals = payments.select(
        pl.len().alias("rows"),
        fraud.sum().alias("fraud_rows"),
        pl.col("amount_eur").sum().alias("amount"),
        pl.col("amount_eur").filter(fraud).sum().alias("fraud_amount"),
    ).collect()
    rows, fraud_rows, amount, fraud_amount = totals.row(0)
    channel = payments.group_by("channel").agg(pl.len(), fraud.sum()).collect()
    scenario = payments.filter(fraud).group_by("fraud_scenario").len().collect()
    values = {c: _counts(payments.group_by(c).len().collect()) for c in DRIFT_CODED}
    step = max(1, int(rows) // NUMERIC_SAMPLE)
    sample = payments.select(DRIFT_NUMERIC).gather_every(step).collect()
    by_hour = (
        payments.group_by(
            "merchant_country", pl.col("event_timestamp").dt.truncate("1h").alias("hour")
        )
        .len()
        .collect()
    )
    return DaySummary(
        day=day,
        rows=int(rows),
        fraud_rows=int(fraud_rows or 0),
        amount_eur=float(amount or 0.0),
        fraud_amount_eur=float(fraud_amount or 0.0),
        channel={c: (int(n), int(f)) for c, n, f in channel.iter_rows()},
        scenario=_counts(scenario),
        values=values,
        numeric={c: sample[c].to_numpy() for c in DRIFT_NUMERIC},
        local_hours=local_hour_counts(by_hour),
    )


def unknown_countries(summary: DaySummary) -> list[str]:
    """Merchant countries without a local clock here (left out of the hourly rhythm)."""
    return sorted(set(summary.values["merchant_country"]) - set(COUNTRY_TZ), key=str)


def daily_series(
    days: list[date], summaries: dict[date, DaySummary]
) -> tuple[list[int | None], dict[str, list[float | None]], dict[str, list[float | None]]]:
    rows = [summaries[d].rows if d in summaries else None for d in days]
    by_channel: dict[str, list[float | None]] = {}
    for c in CHANNELS:
        by_channel[c] = []
        for d in days:
            n, f = summaries[d].channel.get(c, (0, 0)) if d in summaries else (0, 0)
            by_channel[c].append(_pct(f, n))
    by_scenario = {
        s: [
            _pct(summaries[d].scenario.get(s, 0), summaries[d].rows) if d in summaries else None
            for d in days
        ]
        for s in FRAUD_SCENARIOS
    }
    return rows, by_channel, by_scenario


def by_mcc(today: pl.LazyFrame, top: int = 12) -> pl.DataFrame:
    fraud_value = pl.col("amount_eur").filter(pl.col("is_fraud")).sum()
    return (
        today.group_by("mcc", "merchant_category")
        .agg(
            pl.col("amount_eur").sum().alias("amount_eur"),
            pl.len().alias("payments"),
            (fraud_value / pl.col("amount_eur").sum()).alias("fraud_share"),
        )
        .sort("amount_eur", descending=True)
        .head(top)
        .collect()
    )


def shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [100.0 * c / total if total else 0.0 for c in counts]


def _psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index of two distributions over the same bins (shares)."""
    eps = 1e-4
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, eps), max(a, eps)
        total += (a - e) * math.log(a / e)
    return total


def _normalise(counts: dict[Any, int], keys: list[Any]) -> list[float]:
    total = sum(counts.values()) or 1
    return [counts.get(k, 0) / total for k in keys]


def drift(today: DaySummary, baseline: list[DaySummary]) -> dict[str, float]:
    """PSI per column, today against the baseline days pooled."""
    out: dict[str, float] = {}
    if not baseline or today.rows == 0:
        return out
    for column in DRIFT_CODED:
        pooled: dict[Any, int] = {}
        for summary in baseline:
            for value, n in summary.values[column].items():
                pooled[value] = pooled.get(value, 0) + n
        keys = sorted(set(pooled) | set(today.values[column]), key=str)
        out[column] = _psi(_normalise(pooled, keys), _normalise(today.values[column], keys))
    for column in DRIFT_NUMERIC:
        # Deciles of the baseline: each bin holds a tenth of it, so PSI weighs the shape.
        base = np.concatenate([s.numeric[column] for s in baseline])
        edges = np.unique(np.quantile(base, np.linspace(0, 1, DRIFT_BINS + 1)[1:-1]))
        binned = [
            np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1) / len(v)
            for v in (base, today.numeric[column])
        ]
        out[column] = _psi(binned[0].tolist(), binned[1].tolist())
    return out


def calibration(today: DaySummary) -> dict[str, float]:
    return {
        "count": today.fraud_rows / today.rows if today.rows else 0.0,
        "value": today.fraud_amount_eur / today.amount_eur if today.amount_eur else 0.0,
    }


def manifest_checks(manifest: dict[str, Any]) -> list[Check]:
    """The checks the job ran before publishing, re-read from the day's manifest.

    A published day passed every row rule (the job publishes nothing otherwise); the day-level
    numbers are checked again here from the manifest, so a hand-edited day shows up.
    """
    settings = manifest.get("settings", {})
    expected_rows = int(settings.get("rows", manifest.get("rows", 0)))
    rows, fraud = int(manifest.get("rows", 0)), int(manifest.get("fraud_rows", 0))
    low, high = fraud_band(rows, float(manifest.get("target_fraud_rate", 0.0)))
    declared = manifest.get("schema", {})
    checks = [
        Check(
            "published",
            bool(manifest.get("complete", False)),
            "the day's _manifest.json commits it",
        ),
        Check("row count", rows == expected_rows, f"{rows:,} rows, {expected_rows:,} requested"),
        Check(
            "fraud-rate band",
            low <= fraud <= high,
            f"{fraud:,} fraud rows, accepted {low:,}..{high:,}",
        ),
        Check(
            "schema",
            list(declared) == list(FILE_SCHEMA),
            f"{len(declared)} columns declared, {len(FILE_SCHEMA)} in schema.py",
        ),
    ]
    rules = list(PaymentsSchema._schema_validation_rules())
    column_rules = [name for name in COLUMNS]
    published = bool(manifest.get("complete", False))
    checks.append(
        Check(
            "column types and bounds",
            published,
            f"dataframely, {len(column_rules)} columns, on every block",
        )
    )
    checks += [Check(f"rule: {r}", published, "dataframely rule, on every block") for r in rules]
    checks.append(
        Check(
            "labels feed",
            bool(manifest.get("labels_root")),
            str(manifest.get("labels_root") or "not published with this day"),
        )
    )
    return checks


def judge(report: DayReport, unknown: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    failed = [c.name for c in report.checks if not c.passed and c.name != "labels feed"]
    if failed:
        findings.append(Finding("red", f"checks failed: {', '.join(failed)}"))
    if not any(c.passed for c in report.checks if c.name == "labels feed"):
        findings.append(Finding("amber", "no labels feed was published with this day"))
    red = sorted(c for c, v in report.psi.items() if v > PSI_RED)
    amber = sorted(c for c, v in report.psi.items() if PSI_AMBER < v <= PSI_RED)
    if red:
        findings.append(Finding("red", f"drift: {', '.join(red)} (PSI > {PSI_RED})"))
    if amber:
        findings.append(Finding("amber", f"some drift: {', '.join(amber)} (PSI > {PSI_AMBER})"))
    previous = sum(1 for r in report.rows[:-1] if r is not None)
    if previous < BASELINE_DAYS:
        findings.append(
            Finding("amber", f"drift baseline has {previous} of {BASELINE_DAYS} previous days")
        )
    if report.profile == CALIBRATED_PROFILE:
        for kind, target in PUBLISHED_FRAUD_SHARE.items():
            value = report.calibration[kind]
            if not target / CALIBRATION_FACTOR <= value <= target * CALIBRATION_FACTOR:
                findings.append(
                    Finding(
                        "amber",
                        f"fraud share by {kind} {value:.4%} is off the published {target:.4%}",
                    )
                )
    if unknown:
        findings.append(
            Finding(
                "amber", f"no local clock for {', '.join(unknown)}: left out of the hourly rhythm"
            )
        )
    if not findings:
        findings.append(Finding("green", "every check passed, no drift against the previous weeks"))
    return findings


def window(day: date, days: int = BASELINE_DAYS) -> list[date]:
    return [day - timedelta(days=i) for i in range(days, -1, -1)]


def label_delays(reports: pl.DataFrame | None) -> pl.DataFrame | None:
    if reports is None or reports.height == 0:
        return None
    # Every delay from 1 day to the longest, so the axis is a true scale of days.
    counts = _counts(reports.group_by("delay_days").len())
    span = range(1, max(counts) + 1)
    return pl.DataFrame({"delay_days": list(span), "reports": [counts.get(d, 0) for d in span]})


def build(
    day: date,
    manifest: dict[str, Any],
    summaries: dict[date, DaySummary],
    mcc: pl.DataFrame,
    reports: pl.DataFrame | None,
) -> DayReport:
    """Everything on the page: the day's manifest, the window's summaries, today's reports."""
    days = window(day)
    today = summaries[day]
    baseline = [summaries[d] for d in days[:-1] if d in summaries]
    rows, by_channel, by_scenario = daily_series(days, summaries)
    pooled_hours = [sum(s.local_hours[h] for s in baseline) for h in range(24)]
    report = DayReport(
        day=day,
        manifest=manifest,
        days=days,
        rows=rows,
        fraud_by_channel=by_channel,
        fraud_by_scenario=by_scenario,
        mcc=mcc,
        hourly_today=shares(today.local_hours),
        hourly_baseline=shares(pooled_hours),
        delays=label_delays(reports),
        psi=drift(today, baseline),
        calibration=calibration(today),
        profile=str(manifest.get("settings", {}).get("profile", "")),
        checks=manifest_checks(manifest),
    )
    report.findings = judge(report, unknown_countries(today))
    return report
