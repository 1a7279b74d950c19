"""`make fidelity`: the report is whole, and its history features use only the past.

Model scores are never asserted: they are what the report measures.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from bench import fidelity
from bench.fidelity_features import (
    RULES,
    Rule,
    data_statistics,
    evaluate_rules,
    history_features,
    past_in_window,
    rule_context,
)

from fraud_detection.schema import REPORT_SCHEMA, SCHEMA

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def payments(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A hand-made payments frame: the given fields, the rest of the schema's columns filled."""
    filled = []
    for i, r in enumerate(rows):
        filled.append(
            {
                "transaction_id": f"P{i:010d}",
                "customer_id": "C1",
                "card_id": "K1",
                "merchant_id": "M1",
                "terminal_id": "T1",
                "device_id": None,
                "amount_eur": 10.0,
                "auth_result": "approved",
                "channel": "chip",
                "country": "FR",
                "merchant_country": "FR",
                "latitude": 48.85,
                "longitude": 2.35,
                "is_fraud": False,
                **r,
            }
        )
    frame = pl.DataFrame(filled)
    return frame.cast({c: SCHEMA[c] for c in frame.columns if c in SCHEMA})


def reports(rows: list[tuple[str, date, date]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "transaction_id": [r[0] for r in rows],
            "payment_date": [r[1] for r in rows],
            "reported_on": [r[2] for r in rows],
            "delay_days": [(r[2] - r[1]).days for r in rows],
            "report_type": ["chargeback"] * len(rows),
            "case_id": [f"X{i:010d}" for i in range(len(rows))],
            "reason_code": ["10.4"] * len(rows),
        },
        schema=REPORT_SCHEMA,
    )


NO_REPORTS = reports([])


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_new_merchant_is_true_exactly_on_first_visits() -> None:
    frame = payments(
        [
            {"event_timestamp": at(0), "merchant_id": "M1"},
            {"event_timestamp": at(5), "merchant_id": "M2"},
            {"event_timestamp": at(9), "merchant_id": "M1"},
            {"event_timestamp": at(12), "merchant_id": "M1", "card_id": "K2"},  # another card
            {"event_timestamp": at(20), "merchant_id": "M2"},
        ]
    )
    out = history_features(frame, NO_REPORTS)
    assert out["h_new_merchant_for_card"].to_list() == [True, True, False, True, False]


def test_velocity_counts_only_earlier_payments_in_the_window() -> None:
    # Given out of time order: the features follow the timestamps, not the input order.
    frame = payments(
        [
            {"event_timestamp": at(90), "transaction_id": "Pd"},
            {"event_timestamp": at(0), "transaction_id": "Pa"},
            {"event_timestamp": at(30), "transaction_id": "Pb"},
            {"event_timestamp": at(50), "transaction_id": "Pc"},
            {"event_timestamp": at(55), "transaction_id": "Px", "card_id": "K2"},
        ]
    )
    out = history_features(frame, NO_REPORTS).sort("event_timestamp")
    assert out["transaction_id"].to_list() == ["Pa", "Pb", "Pc", "Px", "Pd"]
    assert out["h_card_n_1h"].to_list() == [0, 1, 2, 0, 2]  # Pd: Pb and Pc, not Pa (90 min)
    assert out["h_card_n_before"].to_list() == [0, 1, 2, 0, 3]
    assert out["h_card_secs_since_prev"].to_list() == [None, 1800, 1200, None, 2400]


def test_declines_and_amount_history_use_earlier_rows_only() -> None:
    frame = payments(
        [
            {"event_timestamp": at(0), "amount_eur": 10.0, "auth_result": "declined"},
            {"event_timestamp": at(5), "amount_eur": 30.0},
            {"event_timestamp": at(20), "amount_eur": 60.0},
        ]
    )
    out = history_features(frame, NO_REPORTS)
    assert out["h_card_declines_10m"].to_list() == [0, 1, 0]
    assert out["h_card_declines_1h"].to_list() == [0, 1, 1]
    assert out["h_amount_vs_card_mean"].to_list() == [None, 3.0, 3.0]  # 30/10, 60/20


def test_devices_new_for_the_card_and_seen_with_another_customer() -> None:
    frame = payments(
        [
            {"event_timestamp": at(0), "device_id": "D1", "channel": "online"},
            {"event_timestamp": at(1), "device_id": "D1", "channel": "online"},
            {"event_timestamp": at(2), "device_id": "D1", "customer_id": "C2", "card_id": "K2"},
            {"event_timestamp": at(3), "device_id": "D1", "channel": "online"},
            {"event_timestamp": at(4)},  # card-present: no device
        ]
    )
    out = history_features(frame, NO_REPORTS)
    assert out["h_new_device_for_card"].to_list() == [True, False, True, False, False]
    # C2's payment follows C1's use; C1's third payment follows C2's.
    assert out["h_device_other_customer"].to_list() == [False, False, True, True, False]


def test_reported_fraud_counts_only_recent_reports_made_before_the_payments_day() -> None:
    day = T0.date()
    frame = payments(
        [
            {"event_timestamp": at(0), "transaction_id": "P1", "is_fraud": True},
            {"event_timestamp": at(60 * 24), "transaction_id": "P2"},  # day 2
            {"event_timestamp": at(60 * 48), "transaction_id": "P3"},  # day 3
            {"event_timestamp": at(60 * 49), "transaction_id": "P4", "terminal_id": "T2"},
            {"event_timestamp": at(60 * 24 * 40), "transaction_id": "P5"},  # day 41
        ]
    )
    # P1 is reported on day 2: known from day 3 on, not on day 2 itself, and out of the
    # window of recent reports by day 41.
    labels = reports([("P1", day, day + timedelta(days=1))])
    out = history_features(frame, labels)
    assert out["h_terminal_reported"].to_list() == [0, 0, 1, 0, 0]
    assert out["h_merchant_reported"].to_list() == [0, 0, 1, 1, 0]


def test_past_in_window_never_counts_itself_or_later_rows() -> None:
    group = np.array([0, 0, 0, 1, 1])
    t = np.array([0, 10, 10, 5, 100])
    assert past_in_window(group, t, 10).tolist() == [0, 1, 2, 0, 0]
    weight = np.array([1, 0, 1, 1, 1])
    assert past_in_window(group, t, 10, weight).tolist() == [0, 1, 1, 0, 0]


def test_rules_and_statistics_skip_what_the_feed_does_not_carry() -> None:
    frame = payments(
        [
            {"event_timestamp": at(0), "is_fraud": True},
            {"event_timestamp": at(1)},
        ]
    )
    context = rule_context(history_features(frame, NO_REPORTS))
    missing = Rule("needs_a_column", "reads a column the feed lacks", pl.col("no_such_column"))
    results = {r.rule.name: r for r in evaluate_rules(context, [*RULES, missing])}
    assert results["needs_a_column"].note.startswith("skipped")
    assert results["velocity_3_in_1h"].flagged == 0
    stats = {s.name: s for s in data_statistics(context.drop("device_id"), NO_REPORTS)}
    device = stats["legit devices seen with ≥ 2 customers"]
    assert device.value is None and "device_id" in device.note


def test_quick_run_writes_every_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fidelity.md"
    assert fidelity.main(["--quick", "--out", str(out)]) == 0
    report = out.read_text()
    for heading in (
        "## Run",
        "## Models",
        "## Rules",
        "## Data statistics",
        "## Fraud share and calibration",
        "## How it is measured",
    ):
        assert heading in report
    assert re.search(r"\*\*\d+ of \d+ targets met\.\*\*", report)
    assert not re.search(r"\{[A-Z_]+", report), "a placeholder left unformatted"
    for model in ("raw columns", "raw + history"):
        rows = re.findall(rf"\| {re.escape(model)} \|(.*)\|", report)
        learners = [row.split("|")[0].strip() for row in rows]
        assert sorted(learners) == sorted(fidelity.LEARNERS), (model, learners)
        for row in rows:
            auc, ap = row.split("|")[6:8]
            assert 0 <= float(auc) <= 1 and 0 <= float(ap) <= 1
    for rule in RULES:
        assert f"| `{rule.name}` |" in report
    # Every statistic is a number, or "–" with the reason.
    section = report.split("## Data statistics")[1].split("## Fraud share")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    assert len(rows) >= 10
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        value, note = cells[1], cells[4]
        if value == "–":
            assert note
        else:
            assert np.isfinite(float(value.replace(",", "").rstrip("%")))
