"""Does the feed behave like a card portfolio? Behaviour and invariants, never model scores.

Model scores and the precision of simple rules are measured by `make fidelity`
(docs/fidelity.md); these tests pin the mechanisms that produce them.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from fraud_detection.simulator import DaySpec, generate_dataset
from fraud_detection.simulator.dataset import reports_frame

from .conftest import DAY, SMALL, small_day

WEEKS = 3
ROWS = 12_000  # with the small world: every customer covered, about 0.45 payments a day


@pytest.fixture(scope="module")
def weeks() -> pl.DataFrame:
    days = [DAY + timedelta(days=i) for i in range(7 * WEEKS)]
    return pl.concat(small_day(d, rows=ROWS) for d in days).sort("event_timestamp")


@pytest.fixture(scope="module")
def labels() -> pl.DataFrame:
    days = [DAY + timedelta(days=i) for i in range(7 * WEEKS + 60)]
    return pl.concat(reports_frame(DaySpec(d, ROWS, seed=7, population=SMALL)) for d in days)


def test_nights_are_quiet_and_weekends_start_late() -> None:
    weekday = small_day(DAY, rows=40_000)  # Thursday
    sunday = small_day(DAY + timedelta(days=3), rows=40_000)

    def hours(df: pl.DataFrame) -> pl.Series:
        return df["event_timestamp"].dt.hour().value_counts().sort("event_timestamp")["count"]

    wd, su = hours(weekday), hours(sunday)
    assert wd[2] * 8 < wd[11]
    assert wd[6] > su[6] * 1.3  # Monday–Friday mornings are busier


def test_amounts_are_heavy_tailed_and_priced_per_trade(day_frame: pl.DataFrame) -> None:
    legit = day_frame.filter(~pl.col("is_fraud"))
    eur = legit["amount_eur"]
    assert eur.quantile(0.99) > 6 * eur.median()  # type: ignore[operator]
    by_mcc = dict(legit.group_by("mcc").agg(pl.col("amount_eur").median()).iter_rows())
    assert by_mcc["5944"] > 10 * by_mcc["4111"]  # jewellery vs commuter fares
    cents = legit.with_columns(cents=pl.col("amount") % 100)

    def share_99(mcc: str) -> float:
        return float(cents.filter(pl.col("mcc") == mcc)["cents"].eq(99).mean())  # type: ignore[arg-type]

    assert share_99("5651") > 0.3  # shelf prices in clothing
    assert share_99("5541") < 0.05  # fuel: any cent
    bets = cents.filter(pl.col("mcc").is_in(["7995", "6051"]))["cents"]
    assert float(bets.eq(0).mean()) > 0.95  # type: ignore[arg-type]  # top-ups, bets: round sums


def test_a_payment_rules_combination_is_never_fraud_only(weeks: pl.DataFrame) -> None:
    # Stored-card payments carry SCA for legit customers too (customer-initiated ones).
    on_file = weeks.filter(pl.col("entry_mode") == "credential_on_file")
    legit_sca = on_file.filter(~pl.col("is_fraud") & pl.col("sca")).height
    assert legit_sca > 5 * max(on_file.filter(pl.col("is_fraud") & pl.col("sca")).height, 1)


def test_legit_devices_are_shared_by_households_and_public_computers(weeks: pl.DataFrame) -> None:
    legit = weeks.filter(~pl.col("is_fraud") & pl.col("device_id").is_not_null())
    per_device = legit.group_by("device_id").agg(pl.col("customer_id").n_unique())
    assert (per_device["customer_id"] >= 2).mean() >= 0.005  # type: ignore[operator]


def test_fraud_comes_in_episodes_over_hours(weeks: pl.DataFrame) -> None:
    fraud = weeks.filter(pl.col("is_fraud") & (pl.col("fraud_scenario") != "card_testing"))
    per_card = fraud.group_by("card_id").agg(
        n=pl.len(),
        hours=(pl.col("event_timestamp").max() - pl.col("event_timestamp").min()).dt.total_hours(),
    )
    assert per_card["n"].median() >= 3  # type: ignore[operator]
    assert per_card["hours"].median() >= 1  # type: ignore[operator]


def test_customers_come_back_to_their_shops(weeks: pl.DataFrame) -> None:
    seen = weeks.with_columns(
        again=pl.int_range(pl.len()).over(["card_id", "merchant_id"]) > 0
    ).filter(~pl.col("is_fraud"))
    assert 0.35 <= seen["again"].mean() <= 0.8  # type: ignore[operator]


def test_payments_cluster_in_sessions(weeks: pl.DataFrame) -> None:
    days = weeks["event_timestamp"].dt.date().n_unique()
    per_day = weeks.group_by("card_id", pl.col("event_timestamp").dt.date()).len()
    lam = (per_day.group_by("card_id").agg(pl.col("len").sum())["len"] / days).to_numpy()
    poisson = (days * (1 - np.exp(-lam) * (1 + lam))).sum()
    assert (per_day["len"] >= 2).sum() > 1.1 * poisson


def test_declines_have_reasons_and_are_retried(weeks: pl.DataFrame) -> None:
    legit = weeks.filter(~pl.col("is_fraud"))
    declined = legit.filter(pl.col("auth_result") == "declined")
    assert declined["response_code"].n_unique() >= 5
    assert (legit["response_code"] == "00").mean() > 0.95  # type: ignore[operator]
    # A refusal for funds is often followed minutes later by an approval on the same card.
    nxt = legit.with_columns(
        next_code=pl.col("response_code").shift(-1).over("card_id"),
        gap=(pl.col("event_timestamp").shift(-1).over("card_id") - pl.col("event_timestamp")),
    ).filter(pl.col("response_code") == "51")
    retried = nxt.filter((pl.col("next_code") == "00") & (pl.col("gap") < timedelta(minutes=30)))
    assert retried.height > 0.2 * nxt.height
    # Some retries are refused again for the same reason: a run of refusals is not fraud's alone.
    refused_again = nxt.filter(
        (pl.col("next_code") == "51") & (pl.col("gap") < timedelta(minutes=30))
    )
    assert refused_again.height > 0.05 * nxt.height


def test_no_approved_fraud_on_a_card_after_its_case_is_reported(
    weeks: pl.DataFrame, labels: pl.DataFrame
) -> None:
    fraud = weeks.filter("is_fraud")
    reported = (
        labels.join(fraud.select("transaction_id", "card_id"), on="transaction_id")
        .group_by("card_id")
        .agg(first=pl.col("reported_on").min())
    )
    late = fraud.join(reported, on="card_id").filter(
        (pl.col("auth_result") == "approved")
        & (pl.col("event_timestamp").dt.date() > pl.col("first") + timedelta(days=1))
    )
    assert late.height == 0
    assert reported.height > 10


def test_a_blocked_card_is_declined_then_replaced(weeks: pl.DataFrame) -> None:
    blocked = weeks.filter(pl.col("response_code").is_in(["41", "43", "62"]) & pl.col("is_fraud"))
    assert blocked.height > 0
    # The customer of a blocked card pays later with another card key.
    later = weeks.join(
        blocked.group_by("customer_id").agg(
            blocked_card=pl.col("card_id").first(), at=pl.col("event_timestamp").max()
        ),
        on="customer_id",
    ).filter(pl.col("event_timestamp") > pl.col("at") + timedelta(days=8))
    assert later.height > 0
    assert (later["card_id"] != later["blocked_card"]).all()
    after = weeks.join(
        blocked.group_by("card_id").agg(at=pl.col("event_timestamp").min()), on="card_id"
    ).filter((pl.col("event_timestamp") > pl.col("at")) & (pl.col("auth_result") == "approved"))
    assert after.height == 0


def test_cases_are_reported_once_and_chargebacks_only_on_cleared_payments(
    weeks: pl.DataFrame, labels: pl.DataFrame
) -> None:
    joined = labels.join(
        weeks.select("transaction_id", "card_id", "auth_result", "is_fraud"), on="transaction_id"
    )
    assert joined.filter(pl.col("report_type") == "chargeback")["auth_result"].eq("approved").all()
    assert (
        joined.filter(pl.col("report_type") == "fraud_report")["auth_result"].eq("declined").all()
    )
    per_case = joined.group_by("case_id").agg(pl.col("reported_on").n_unique())
    assert (per_case["reported_on"] == 1).all()
    assert labels["transaction_id"].is_unique().all()
    chargebacks = labels.filter(pl.col("report_type") == "chargeback")["delay_days"]
    assert 10 <= chargebacks.median() <= 60  # type: ignore[operator]
    assert int(labels["reported_on"].dt.weekday().max()) <= 5  # type: ignore[arg-type]  # weekdays


def test_intensity_per_card_does_not_depend_on_rows() -> None:
    def fraud_share(rows: int) -> float:
        days = [DAY + timedelta(days=i) for i in range(10)]
        df = pl.concat(small_day(d, rows=rows) for d in days)
        return float(df["is_fraud"].mean())  # type: ignore[arg-type]

    small, large = fraud_share(3_000), fraud_share(12_000)
    assert 0.5 < small / large < 2.0


def test_realistic_profile_is_rare_fraud() -> None:
    days = [date(2025, 6, 2) + timedelta(days=i) for i in range(5)]
    df = pl.concat(
        generate_dataset(d, 12_000, seed=7, population=SMALL, profile="realistic").collect()
        for d in days
    )
    assert df["is_fraud"].mean() < 0.002  # type: ignore[operator]


def test_fraud_reaches_wallets_and_the_victims_usual_shops(weeks: pl.DataFrame) -> None:
    fraud = weeks.filter("is_fraud")
    # Stolen details provisioned into a fraudster's phone wallet: wallet taps are not fraud-free.
    assert (fraud["entry_mode"] == "mobile_wallet").sum() > 0
    # Some fraud lands where the victim shops anyway; most of it at shops new to them.
    earlier = (
        weeks.filter(~pl.col("is_fraud"))
        .group_by("customer_id", "merchant_id")
        .agg(first_seen=pl.col("event_timestamp").min())
    )
    known = fraud.join(earlier, on=["customer_id", "merchant_id"]).filter(
        pl.col("first_seen") < pl.col("event_timestamp")
    )
    assert 0.05 * fraud.height < known.height < 0.5 * fraud.height
