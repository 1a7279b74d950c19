"""Natural variation and drift: campaigns, the calendar, and tactics that change."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.fraud import SCENARIO, fraud_budget, fraud_rows
from fraud_detection.simulator.profiles import PROFILES
from fraud_detection.simulator.timeline import (
    ATO_LOCAL_VARIANT_FROM,
    MERCHANT_BREACHES,
    TESTING_WAVES,
    black_friday,
)

from .conftest import small_day

TRAINING = PROFILES["training"]


def _budgets(first: date, days: int, rows: int = 1_000_000, seeds: int = 1) -> np.ndarray:
    """Fraud rows per (day, scenario), summed over `seeds` worlds to average campaigns out."""
    return np.array(
        [
            sum(
                fraud_budget(seed, first + timedelta(days=i), rows, TRAINING.fraud_rate, TRAINING)
                for seed in range(7, 7 + seeds)
            )
            for i in range(days)
        ]
    )


def test_daily_fraud_is_overdispersed_in_the_feed() -> None:
    rows = 40_000
    rates = np.array(
        [
            small_day(date(2025, 3, 3) + timedelta(days=i), rows=rows)["is_fraud"].mean()
            for i in range(21)
        ]
    )
    binomial = np.sqrt(rates.mean() * (1 - rates.mean()) / rows)
    assert rates.std(ddof=1) > 1.5 * binomial, (rates.std(ddof=1), binomial)


def test_each_scenario_is_burstier_than_poisson() -> None:
    counts = _budgets(date(2025, 3, 1), 120)
    cv = counts.std(axis=0, ddof=1) / counts.mean(axis=0)
    poisson_cv = 1 / np.sqrt(counts.mean(axis=0))
    assert (cv > 5 * poisson_cv).all(), (cv, poisson_cv)
    # Campaigns last days: today's volume tells something about tomorrow's.
    card = counts[:, SCENARIO["compromised_card"]].astype(float)
    assert np.corrcoef(card[:-1], card[1:])[0, 1] > 0.3


def test_fraud_rows_match_the_feed() -> None:
    day, rows = date(2025, 6, 12), 20_000
    feed = small_day(day, rows=rows).with_row_index("row").filter(pl.col("is_fraud"))
    row, _ = fraud_rows(7, DayClock.for_day(day, rows), TRAINING.fraud_rate, TRAINING)
    assert feed["row"].to_numpy().tolist() == row.tolist()


def test_the_scenario_mix_drifts_over_the_timeline() -> None:
    early, late = _budgets(date(2025, 1, 6), 56), _budgets(date(2026, 11, 2), 56)
    share = lambda c, s: c[:, SCENARIO[s]].sum() / c.sum()  # noqa: E731
    assert share(late, "account_takeover") > 1.4 * share(early, "account_takeover")
    assert share(late, "compromised_terminal") < 0.7 * share(early, "compromised_terminal")


def test_testing_waves_and_breaches_raise_their_scenario() -> None:
    testing = SCENARIO["card_testing"]
    for start, end in TESTING_WAVES:
        days = (end - start).days + 1
        during = _budgets(start, days, seeds=5)[:, testing].mean()
        before = _budgets(start - timedelta(days=3 * days), 2 * days, seeds=5)[:, testing].mean()
        assert during > 2 * before
    card = SCENARIO["compromised_card"]
    for breach in MERCHANT_BREACHES:
        after = _budgets(breach + timedelta(days=1), 10, seeds=5)[:, card].mean()
        before = _budgets(breach - timedelta(days=30), 28, seeds=5)[:, card].mean()
        assert after > 1.4 * before


def test_a_takeover_variant_appears_on_its_date() -> None:
    def takeovers(first: date) -> pl.DataFrame:
        return pl.concat(
            small_day(first + timedelta(days=i), rows=20_000) for i in range(7)
        ).filter(pl.col("fraud_scenario") == "account_takeover")

    before = takeovers(ATO_LOCAL_VARIANT_FROM - timedelta(days=14))
    after = takeovers(ATO_LOCAL_VARIANT_FROM + timedelta(days=14))
    night = lambda df: (df["event_timestamp"].dt.hour() < 5).mean()  # noqa: E731
    assert night(after) < 0.6 * night(before)
    near = lambda df: (df["distance_from_home_km"] < 50).mean()  # noqa: E731
    assert near(after) > 1.5 * near(before)


def _share(df: pl.DataFrame, mccs: list[str]) -> float:
    legit = df.filter(~pl.col("is_fraud"))
    return float(legit["mcc"].is_in(mccs).mean())  # type: ignore[arg-type]


def test_the_calendar_shapes_legit_spending() -> None:
    march, august = small_day(date(2025, 3, 5)), small_day(date(2025, 8, 6))  # Wednesdays
    assert _share(august, ["7011", "4511"]) > 1.3 * _share(march, ["7011", "4511"])
    friday = small_day(black_friday(2025) - timedelta(days=14))
    assert _share(small_day(black_friday(2025)), ["5732"]) > 1.8 * _share(friday, ["5732"])
    first, mid = small_day(date(2025, 9, 1)), small_day(date(2025, 9, 15))  # Mondays
    assert _share(first, ["4899"]) > 1.4 * _share(mid, ["4899"])  # subscriptions renew


def test_the_realistic_profile_has_published_rates() -> None:
    realistic = PROFILES["realistic"]
    rows = 1_000_000
    counts = np.array(
        [
            fraud_budget(
                7, date(2025, 3, 1) + timedelta(days=i), rows, realistic.fraud_rate, realistic
            )
            for i in range(90)
        ]
    )
    rate = counts.sum() / (90 * rows)
    assert 0.0001 < rate < 0.0002  # about 0.015 % by count
    cnp = counts[
        :, [SCENARIO["compromised_card"], SCENARIO["card_testing"], SCENARIO["account_takeover"]]
    ]
    assert cnp.sum() > 0.8 * counts.sum()  # mostly the card-not-present scenarios
