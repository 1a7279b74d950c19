"""The report's pure core: drift, local clocks, the checks from the manifest, the verdict."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import polars as pl
import pytest

from fraud_detection.errors import UsageError
from fraud_detection.report import page, stats, svg
from fraud_detection.report.cli import beside
from fraud_detection.report.reference import BASELINE_DAYS, COUNTRY_TZ, PSI_RED
from fraud_detection.schema import FILE_SCHEMA
from fraud_detection.simulator.reference import COUNTRIES

DAY = date(2025, 6, 12)


def _manifest(**changes: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "dataset": "card_payments_raw", "rows": 1000, "fraud_rows": 5, "fraud_rate": 0.005,
        "target_fraud_rate": 0.005, "complete": True, "schema": {c: "x" for c in FILE_SCHEMA},
        "settings": {"rows": "1000", "profile": "training"}, "labels_root": "file:///labels",
    }  # fmt: skip
    return manifest | changes


def test_the_local_clocks_are_the_simulators() -> None:
    # The report must not import the simulator; this keeps its copy of the zones in step.
    assert {c.code: c.tz for c in COUNTRIES} == COUNTRY_TZ


def test_local_hours_use_the_merchant_countrys_clock() -> None:
    noon = datetime(2025, 6, 12, 12, tzinfo=UTC)
    by_hour = pl.DataFrame(
        {"merchant_country": ["DE", "PT"], "hour": [noon, noon], "len": [3, 1]},
        schema={"merchant_country": pl.String, "hour": pl.Datetime("us", "UTC"), "len": pl.UInt32},
    )
    hours = stats.local_hour_counts(by_hour)
    assert hours[14] == 3  # Berlin, CEST
    assert hours[13] == 1  # Lisbon, WEST
    assert sum(hours) == 4


def _summary(day: date, coded: str, shift: float) -> stats.DaySummary:
    rng = np.random.default_rng(7)
    return stats.DaySummary(
        day=day, rows=1000, fraud_rows=1, amount_eur=100.0, fraud_amount_eur=1.0,
        channel={}, scenario={}, local_hours=[0] * 24,
        values={c: {coded: 600, "b": 400} if c == "channel" else {"x": 1000} for c in stats.DRIFT_CODED},
        numeric={c: rng.lognormal(3.0, 1.0, 5000) + shift for c in stats.DRIFT_NUMERIC},
    )  # fmt: skip


def test_psi_is_small_for_the_same_population_and_red_for_another() -> None:
    baseline = [_summary(DAY, "a", 0.0) for _ in range(3)]
    same = stats.drift(_summary(DAY, "a", 0.0), baseline)
    assert max(same.values()) < 0.01
    other = stats.drift(_summary(DAY, "c", 500.0), baseline)
    assert other["channel"] > PSI_RED and other["amount_eur"] > PSI_RED
    assert other["country"] == 0.0


def test_a_day_is_summarised_from_a_lazy_scan_of_its_rows() -> None:
    at = datetime(2025, 6, 12, 23, 30, tzinfo=UTC)
    frame = pl.DataFrame(
        {c: [None, None] for c in stats.COLUMNS_READ},
        schema={c: FILE_SCHEMA[c] for c in stats.COLUMNS_READ},
    ).with_columns(
        pl.Series("event_timestamp", [at, at], dtype=pl.Datetime("us", "UTC")),
        pl.Series("merchant_country", ["DE", "GB"]),
        pl.Series("channel", ["online", "chip"]),
        pl.Series("is_fraud", [True, False]),
        pl.Series("fraud_scenario", ["card_testing", None]),
        pl.Series("amount_eur", [10.0, 30.0]),
    )
    summary = stats.summarise(frame.lazy(), DAY)
    assert (summary.rows, summary.fraud_rows, summary.fraud_amount_eur) == (2, 1, 10.0)
    assert summary.channel == {"online": (1, 1), "chip": (1, 0)}
    assert summary.scenario == {"card_testing": 1}
    assert summary.local_hours[1] == 1 and summary.local_hours[0] == 1  # Berlin 01:30, London 00:30
    assert stats.calibration(summary) == {"count": 0.5, "value": 0.25}


def test_the_manifest_checks_catch_a_day_that_disagrees_with_its_settings() -> None:
    checks = {c.name: c for c in stats.manifest_checks(_manifest())}
    assert all(c.passed for c in checks.values())
    assert not {c.name: c for c in stats.manifest_checks(_manifest(rows=999))}["row count"].passed
    schema = {c: "x" for c in list(FILE_SCHEMA)[:-1]}
    assert not {c.name: c for c in stats.manifest_checks(_manifest(schema=schema))}["schema"].passed


def _report(**changes: Any) -> stats.DayReport:
    values: dict[str, Any] = {
        "day": DAY, "manifest": _manifest(), "days": stats.window(DAY),
        "rows": [1000] * (BASELINE_DAYS + 1), "fraud_by_channel": {}, "fraud_by_scenario": {},
        "mcc": pl.DataFrame(), "hourly_today": [0.0] * 24, "hourly_baseline": [0.0] * 24,
        "delays": None, "psi": {"channel": 0.01}, "calibration": {"count": 0.005, "value": 0.01},
        "profile": "training", "checks": stats.manifest_checks(_manifest()),
    }  # fmt: skip
    return stats.DayReport(**(values | changes))


def test_the_verdict_says_why() -> None:
    assert [f.level for f in stats.judge(_report(), [])] == ["green"]
    red = stats.judge(_report(checks=stats.manifest_checks(_manifest(rows=999))), [])
    assert ("red", "checks failed: row count") in [(f.level, f.text) for f in red]
    drift = stats.judge(_report(psi={"mcc": 0.3, "channel": 0.15}), [])
    assert [(f.level, f.text.split(":")[0]) for f in drift] == [
        ("red", "drift"),
        ("amber", "some drift"),
    ]
    short = stats.judge(_report(rows=[None] * 20 + [1000] * 9), [])
    assert [f.text for f in short] == ["drift baseline has 8 of 28 previous days"]


def test_the_realistic_profile_is_judged_against_the_published_rates() -> None:
    off = stats.judge(
        _report(profile="realistic", calibration={"count": 0.005, "value": 0.0003}), []
    )
    assert [f.text.split(" ")[3] for f in off] == ["count"]
    on = stats.judge(
        _report(profile="realistic", calibration={"count": 0.00016, "value": 0.0003}), []
    )
    assert [f.level for f in on] == ["green"]


def test_the_page_holds_its_style_and_a_chart_per_figure() -> None:
    report = _report(mcc=pl.DataFrame({"mcc": ["5411"], "merchant_category": ["Grocery"], "amount_eur": [10.0], "payments": [1], "fraud_share": [0.0]}))  # fmt: skip
    html = page.render(report)
    assert html.count("<figure>") == html.count('class="chart"') == 8
    assert 'data-level="green"' in html and "<style>" in html


def test_bars_draw_one_mark_per_value() -> None:
    assert svg.bars("x", ["a", "b", "c"], [1.0, 2.0, 0.0]).count("<rect") == 3
    assert svg.lines("x", ["a", "b"], {"s": [1.0, None]}).count("<circle") == 1


@pytest.mark.parametrize(
    ("source", "expected"),
    [("s3://bucket/raw", "s3://bucket/reports"), ("s3://bucket/a/raw", "s3://bucket/a/reports")],
)
def test_reports_sit_beside_the_source(source: str, expected: str) -> None:
    assert beside(source) == expected


def test_a_bucket_root_has_no_folder_beside_it() -> None:
    with pytest.raises(UsageError, match="pass --dest"):
        beside("s3://bucket")


def test_every_flag_is_documented() -> None:
    from pathlib import Path

    from fraud_detection.report.cli import build_parser

    doc = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text()
    flags = {f for action in build_parser()._actions for f in action.option_strings}
    assert flags - {"-h", "--help"} == {f for f in flags - {"-h", "--help"} if f"`{f}`" in doc}
