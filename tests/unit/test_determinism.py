"""Same inputs, same rows; slices union to the day; entities and windows persist."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from fraud_detection.simulator import PopulationSizes, Shard, generate_dataset
from fraud_detection.simulator.dataset import DaySpec
from fraud_detection.simulator.episodes import attempts_on
from fraud_detection.simulator.population import build_population
from fraud_detection.simulator.portfolio import population_for

from .conftest import DAY, SMALL, small_day


def test_same_inputs_give_identical_rows() -> None:
    a = small_day()
    population_for.cache_clear()  # rebuild the world from scratch, too
    b = small_day()
    assert a.equals(b)


def test_seed_changes_the_rows() -> None:
    assert not small_day(seed=1)["amount"].equals(small_day(seed=2)["amount"])


def test_different_days_give_different_transactions_from_the_same_entities() -> None:
    a, b = small_day(DAY), small_day(DAY + timedelta(days=1))
    assert set(a["transaction_id"]).isdisjoint(set(b["transaction_id"]))
    shared = set(a["customer_id"]) & set(b["customer_id"])
    assert len(shared) > 0.3 * a["customer_id"].n_unique()
    assert len(set(a["merchant_id"]) & set(b["merchant_id"])) > 0.5 * a["merchant_id"].n_unique()


@pytest.mark.parametrize(("rows", "count"), [(20_000, 3), (7_919, 4), (50_001, 7)])
def test_slices_union_to_exactly_the_unsharded_day(rows: int, count: int) -> None:
    whole = small_day(rows=rows)
    parts = [small_day(rows=rows, shard=Shard(i, count)) for i in range(count)]
    assert sum(p.height for p in parts) == rows
    assert pl.concat(parts).equals(whole)


def test_slice_row_counts_match_the_spec() -> None:
    spec = DaySpec(DAY, 50_001, population=SMALL)
    assert sum(spec.shard_rows(Shard(i, 7)) for i in range(7)) == 50_001


def test_growing_a_population_keeps_existing_entities() -> None:
    small = build_population(3, PopulationSizes(customers=5_000, merchants=500))
    large = build_population(3, PopulationSizes(customers=8_000, merchants=900))
    assert small.customer_id.equals(large.customer_id.head(5_000))
    assert (small.home_city == large.home_city[:5_000]).all()
    assert (small.amount_scale == large.amount_scale[:5_000]).all()
    assert small.merchant_id.equals(large.merchant_id.head(500))
    assert (small.merchant_category == large.merchant_category[:500]).all()


def test_entity_keys_do_not_depend_on_rows() -> None:
    a, b = small_day(rows=5_000), small_day(rows=30_000)
    # Same world: every customer seen in the small day exists in the large world's ids.
    world = population_for(7, SMALL)
    assert set(a["customer_id"]) <= set(world.customer_id)
    assert set(b["customer_id"]) <= set(world.customer_id)


def test_episodes_carry_over_to_the_next_day_without_replay() -> None:
    spec = DaySpec(DAY, 20_000, seed=7, population=SMALL)
    carried = 0
    for offset in range(10):
        day = DAY + timedelta(days=offset)
        today, _ = attempts_on(spec.regime, day)
        tomorrow_eps, tomorrow = attempts_on(spec.regime, day + timedelta(days=1))
        _, att = attempts_on(spec.regime, day)
        carried += len(set(today.key[att.episode]) & set(tomorrow_eps.key[tomorrow.episode]))
    assert carried > 0


def test_fraud_on_consecutive_days_hits_the_same_compromised_cards() -> None:
    a = small_day(rows=100_000)
    b = small_day(DAY + timedelta(days=1), rows=100_000)
    cards = lambda df: set(df.filter(pl.col("is_fraud"))["card_id"])  # noqa: E731
    assert cards(a) & cards(b)


def test_day_is_a_function_of_its_own_inputs_only() -> None:
    # Generating other days first (in any order) must not change a day.
    fresh = small_day(DAY + timedelta(days=3))
    small_day(DAY)
    small_day(DAY + timedelta(days=9))
    assert small_day(DAY + timedelta(days=3)).equals(fresh)


def test_generate_dataset_is_lazy_and_supports_projection_and_limits() -> None:
    lf = generate_dataset(DAY, 40_000, seed=7, population=SMALL)
    head = lf.select("transaction_id", "amount").head(1_000).collect()
    assert head.shape == (1_000, 2)
    assert head.equals(small_day(rows=40_000).select("transaction_id", "amount").head(1_000))
