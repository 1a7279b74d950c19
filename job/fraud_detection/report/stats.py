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


def daily_series(
    history: pl.DataFrame, days: list[date]
) -> tuple[list[int | None], dict[str, list[float | None]], dict[str, list[float | None]]]:
    per_day = history.with_columns(pl.col("event_timestamp").dt.date().alias("_day"))
    counts = dict(per_day.group_by("_day").len().iter_rows())
    rows = [counts.get(d) for d in days]
    by_channel = (
        per_day.group_by("_day", "channel")
        .agg(pl.len().alias("n"), pl.col("is_fraud").sum().alias("f"))
        .iter_rows()
    )
    channel = {(d, c): (n, f) for d, c, n, f in by_channel}
    by_scenario = dict(
        ((d, s), n)
        for d, s, n in per_day.filter(pl.col("is_fraud"))
        .group_by("_day", "fraud_scenario")
        .len()
        .iter_rows()
    )
    fraud_by_channel = {
        c: [
            _pct(channel[(d, c)][1], channel[(d, c)][0]) if (d, c) in channel else None
            for d in days
        ]
        for c in CHANNELS
    }
    fraud_by_scenario = {
        s: [_pct(by_scenario.get((d, s), 0), counts[d]) if d in counts else None for d in days]
        for s in FRAUD_SCENARIOS
    }
    return rows, fraud_by_channel, fraud_by_scenario


def by_mcc(today: pl.DataFrame, top: int = 12) -> pl.DataFrame:
    return (
        today.group_by("mcc", "merchant_category")
        .agg(
            pl.col("amount_eur").sum().alias("amount_eur"),
            pl.len().alias("payments"),
            (
                pl.col("amount_eur").filter(pl.col("is_fraud")).sum() / pl.col("amount_eur").sum()
            ).alias("fraud_share"),
        )
        .sort("amount_eur", descending=True)
        .head(top)
    )


def local_hours(frame: pl.DataFrame) -> list[float]:
    """Share of payments per hour of the merchant country's local clock (0-23)."""
    counts = [0] * 24
    for country, zone in COUNTRY_TZ.items():
        part = frame.filter(pl.col("merchant_country") == country)
        if part.height == 0:
            continue
        hours = part.select(
            pl.col("event_timestamp").dt.convert_time_zone(zone).dt.hour().alias("h")
        )
        for hour, n in hours.group_by("h").len().iter_rows():
            counts[hour] += n
    total = sum(counts)
    return [100.0 * c / total if total else 0.0 for c in counts]


def unknown_countries(frame: pl.DataFrame) -> list[str]:
    return sorted(set(frame["merchant_country"].unique().to_list()) - set(COUNTRY_TZ))


def _psi(expected: pl.Series, actual: pl.Series) -> float:
    """Population stability index of two distributions over the same bins (shares)."""
    eps = 1e-4
    total = 0.0
    for e, a in zip(expected.to_list(), actual.to_list(), strict=True):
        e, a = max(e, eps), max(a, eps)
        total += (a - e) * math.log(a / e)
    return total


def _shares(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.group_by(column).len().with_columns(pl.col("len") / pl.col("len").sum())


def drift(today: pl.DataFrame, baseline: pl.DataFrame) -> dict[str, float]:
    """PSI per column, today against the baseline pooled."""
    out: dict[str, float] = {}
    if baseline.height == 0 or today.height == 0:
        return out
    for column in DRIFT_CODED:
        a, e = _shares(today, column), _shares(baseline, column)
        joined = e.join(a, on=column, how="full", coalesce=True, nulls_equal=True).fill_null(0.0)
        out[column] = _psi(joined["len"], joined["len_right"])
    for column in DRIFT_NUMERIC:
        # Deciles of the baseline: each bin holds a tenth of it, so PSI weighs the shape.
        base = baseline[column].to_numpy()
        edges = np.unique(np.quantile(base, np.linspace(0, 1, DRIFT_BINS + 1)[1:-1]))
        shares = [
            np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
            / len(values)
            for values in (base, today[column].to_numpy())
        ]
        out[column] = _psi(pl.Series(shares[0]), pl.Series(shares[1]))
    return out


def calibration(today: pl.DataFrame) -> dict[str, float]:
    fraud = pl.col("is_fraud")
    row = today.select(
        fraud.mean().alias("count"),
        (pl.col("amount_eur").filter(fraud).sum() / pl.col("amount_eur").sum()).alias("value"),
    ).row(0)
    return {"count": float(row[0] or 0.0), "value": float(row[1] or 0.0)}


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


def build(
    day: date,
    manifest: dict[str, Any],
    history: pl.DataFrame,
    reports: pl.DataFrame | None,
) -> DayReport:
    """Everything on the page, from the day's manifest, the window's payments and today's reports."""
    days = window(day)
    stamp = pl.col("event_timestamp").dt.date()
    today = history.filter(stamp == day)
    baseline = history.filter(stamp < day)
    rows, by_channel, by_scenario = daily_series(history, days)
    delays = (
        reports.group_by("delay_days").len("reports").sort("delay_days")
        if reports is not None
        else None
    )
    report = DayReport(
        day=day,
        manifest=manifest,
        days=days,
        rows=rows,
        fraud_by_channel=by_channel,
        fraud_by_scenario=by_scenario,
        mcc=by_mcc(today),
        hourly_today=local_hours(today),
        hourly_baseline=local_hours(baseline) if baseline.height else [0.0] * 24,
        delays=delays,
        psi=drift(today, baseline),
        calibration=calibration(today),
        profile=str(manifest.get("settings", {}).get("profile", "")),
        checks=manifest_checks(manifest),
    )
    report.findings = judge(report, unknown_countries(today))
    return report
