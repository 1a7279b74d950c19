"""Fraud that chains across days: tested cards cashed out, skimmed cards counterfeited."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from fraud_detection.simulator.dataset import population_for
from fraud_detection.simulator.fraud import compromised_terminals

from .conftest import SMALL, small_day

START = date(2025, 5, 5)


@pytest.fixture(scope="module")
def weeks() -> pl.DataFrame:
    return pl.concat(
        small_day(START + timedelta(days=i)).with_columns(day=pl.lit(i)) for i in range(24)
    )


def test_cards_that_pass_testing_are_cashed_out_days_later(weeks: pl.DataFrame) -> None:
    tested = (
        weeks.filter(pl.col("fraud_scenario") == "card_testing")
        .group_by("card_id")
        .agg(tested=pl.col("day").min())
    )
    cashed = (
        weeks.filter(pl.col("fraud_scenario") == "compromised_card")
        .group_by("card_id")
        .agg(cashed=pl.col("day").min(), spent=pl.col("amount_eur").sum())
    )
    chained = tested.join(cashed, on="card_id")
    assert chained.height >= 5
    # Cash-out follows the test (a few cards were tested before the window began, or
    # are stolen twice in this small world).
    assert (chained["cashed"] > chained["tested"]).mean() > 0.7  # type: ignore[operator]
    # Cash-out is worth far more than the tests were.
    assert chained["spent"].median() > 50  # type: ignore[operator]


def test_skimming_is_genuine_and_counterfeits_follow_elsewhere(weeks: pl.DataFrame) -> None:
    pop = population_for(7, SMALL)
    day = 3
    terminals = set(
        pop.terminal_id.gather(compromised_terminals(pop, 7, START + timedelta(days=day)))
    )
    at_terminals = weeks.filter(pl.col("day") == day, pl.col("terminal_id").is_in(terminals))
    assert at_terminals.height > 0
    assert not at_terminals["is_fraud"].any()  # the skimming payments are genuine
    skimmed = set(at_terminals["card_id"])
    counterfeits = weeks.filter(
        pl.col("day") > day,
        pl.col("fraud_scenario") == "compromised_terminal",
        pl.col("card_id").is_in(skimmed),
    )
    assert counterfeits["card_id"].n_unique() >= 0.1 * len(skimmed)
    assert not counterfeits["terminal_id"].is_in(terminals).any()  # used elsewhere
    # None of the skimmed cards is counterfeited on the day itself or before.
    early = weeks.filter(
        pl.col("day") <= day,
        pl.col("fraud_scenario") == "compromised_terminal",
        pl.col("card_id").is_in(skimmed),
    )
    assert early.height == 0
