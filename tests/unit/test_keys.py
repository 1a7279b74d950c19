"""Compact keys: unique, fixed-width and stable by construction (simulator/keys.py)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from fraud_detection.schema import (
    KEY_LENGTH,
    KEY_PREFIX,
    TRANSACTION_DAY_BITS,
    TRANSACTION_KEY_CHARS,
    TRANSACTION_ROW_BITS,
)
from fraud_detection.simulator.keys import (
    CROCKFORD,
    base32_keys,
    entity_keys,
    permute,
    transaction_keys,
)
from fraud_detection.simulator.population import PopulationSizes, build_population
from fraud_detection.simulator.seeding import salt_for

TOKEN = f"[{CROCKFORD.decode()}]"


@pytest.mark.parametrize("bits", [8, 13, 16])
def test_permute_is_a_bijection_on_its_domain(bits: int) -> None:
    everything = np.arange(1 << bits, dtype=np.uint64)
    out = permute(everything, bits, salt=12345)
    assert out.max() < 1 << bits
    assert np.array_equal(np.sort(out), everything)
    assert not np.array_equal(out, everything)  # it does move things
    assert not np.array_equal(out, permute(everything, bits, salt=54321))  # keyed


def test_population_keys_are_unique_fixed_width_and_prefixed() -> None:
    pop = build_population(11, PopulationSizes(customers=30_000, merchants=3_000))
    for name, keys in [
        ("customer_id", pop.customer_id),
        ("card_id", pop.card_id),
        ("merchant_id", pop.merchant_id),
        ("terminal_id", pop.terminal_id),
    ]:
        assert keys.dtype == pl.String
        assert keys.n_unique() == len(keys), name
        assert (keys.str.len_bytes() == KEY_LENGTH[name]).all(), name
        assert keys.str.contains(f"^{KEY_PREFIX[name]}{TOKEN}+$").all(), name


def test_entity_keys_are_stable_and_grow_without_changing() -> None:
    small = entity_keys(5, "customer", 1_000)
    assert small.equals(entity_keys(5, "customer", 50_000).head(1_000))
    assert not small.equals(entity_keys(6, "customer", 1_000))  # the seed matters
    # Kinds never share a key: the prefix differs.
    assert set(small).isdisjoint(set(entity_keys(5, "card", 1_000)))


def test_transaction_keys_unique_within_and_across_days() -> None:
    rows = np.arange(200_000)
    days = [date(2025, 6, 12) + timedelta(days=i) for i in range(5)] + [date(1970, 1, 1)]
    keys = pl.concat([transaction_keys(3, day, rows) for day in days])
    assert keys.n_unique() == len(keys)
    assert (keys.str.len_bytes() == KEY_LENGTH["transaction_id"]).all()
    assert keys.str.contains(f"^P{TOKEN}+$").all()
    # A pure function of (seed, day, row): any subset of rows gives the same keys.
    again = transaction_keys(3, days[0], rows[::7])
    assert again.equals(keys.head(200_000).gather_every(7))


def test_transaction_keys_are_the_packed_day_and_row() -> None:
    day = date(2025, 6, 12)
    rows = np.arange(0, 1 << 30, 4_099)
    day_index = day.toordinal() - date(1970, 1, 1).toordinal()
    day_part = (day_index + salt_for(3, "keys", "transaction-day")) % (1 << TRANSACTION_DAY_BITS)
    row_part = permute(rows, TRANSACTION_ROW_BITS, salt_for(3, "keys", "transaction", day))
    packed = (np.uint64(day_part) << np.uint64(TRANSACTION_ROW_BITS)) | row_part
    expected = base32_keys(packed, KEY_PREFIX["transaction_id"], TRANSACTION_KEY_CHARS)
    assert transaction_keys(3, day, rows).equals(expected, check_names=False)


def test_keys_keep_within_duckdb_inline_strings() -> None:
    assert max(KEY_LENGTH.values()) <= 12


def test_out_of_range_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        transaction_keys(3, date(2025, 6, 12), np.array([1 << 30]))
    with pytest.raises(ValueError, match="outside"):
        transaction_keys(3, date(5000, 1, 1), np.arange(3))
