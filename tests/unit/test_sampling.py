"""GuideTable answers exactly what numpy's searchsorted answers, on either side."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from fraud_detection.simulator.sampling import GuideTable, build_guide, sort_with_order


@pytest.mark.parametrize("side", ["left", "right"])
def test_guide_table_is_searchsorted(side: Literal["left", "right"]) -> None:
    rng = np.random.default_rng(3)
    for trial in range(200):
        n = int(rng.integers(1, 300))
        weights = rng.lognormal(0.0, 2.0, n)
        if trial % 3 == 0:
            weights[rng.integers(0, n, n // 2)] = 0.0  # empty entries: equal cdf values
        weights[0] += 1e-9
        cdf = np.cumsum(weights)
        targets = rng.random(2_000) * cdf[-1] * rng.uniform(0.5, 1.2)
        targets = np.concatenate([targets, cdf, np.nextafter(cdf, 0.0)])  # exact hits
        table = GuideTable(cdf, int(rng.integers(1, 20)), side=side)
        expected = np.minimum(np.searchsorted(cdf, targets, side=side), n - 1)
        assert np.array_equal(table.find(targets), expected), trial


@pytest.mark.parametrize("side", ["left", "right"])
def test_search_is_searchsorted_for_any_target(side: Literal["left", "right"]) -> None:
    rng = np.random.default_rng(5)
    for trial in range(200):
        n = int(rng.integers(1, 300))
        cdf = np.sort(rng.uniform(0.0, 1e5, n))  # sorted times, as in sessions
        if trial % 3 == 0:
            cdf[rng.integers(0, n, n // 2)] = cdf[0]  # ties, and a cdf starting at its min
            cdf.sort()
        if trial % 5 == 0:
            cdf[0] = 0.0
        # Below 0, beyond the last entry, exact hits and their neighbours.
        targets = rng.uniform(-0.2, 1.2, 2_000) * max(cdf[-1], 1.0)
        targets = np.concatenate([targets, cdf, np.nextafter(cdf, 0.0), np.nextafter(cdf, 2e5)])
        table = GuideTable(cdf, int(rng.integers(1, 20)), side=side)
        assert np.array_equal(table.search(targets), np.searchsorted(cdf, targets, side=side))
    empty = GuideTable(np.zeros(0), side=side)
    assert np.array_equal(empty.search(np.array([-1.0, 0.0, 1.0])), [0, 0, 0])
    zeros = GuideTable(np.zeros(3), side=side)
    assert np.array_equal(
        zeros.search(np.array([-1.0, 0.0, 1.0])), np.searchsorted(np.zeros(3), [-1, 0, 1], side)
    )


@pytest.mark.parametrize("side", ["left", "right"])
def test_guide_is_searchsorted_at_the_bucket_edges(side: Literal["left", "right"]) -> None:
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(1, 400))
        weights = rng.lognormal(0.0, 3.0, n)
        if trial % 3 == 0:
            weights[rng.integers(0, n, n // 2)] = 0.0
        if trial % 4 == 0:
            weights = np.round(weights * 4) / 4 + 1.0  # entries on the edges exactly
        if trial % 5 == 0:
            weights = np.ones(n)
        cdf = np.cumsum(weights)
        table = GuideTable(cdf, int(rng.integers(1, 20)), side=side)
        edges = np.arange(table.m, dtype=np.float64) * (table.total / table.m)
        assert np.array_equal(table.guide, np.searchsorted(cdf, edges, side=side)), trial
    # Entries on a bucket's edge and an ulp either side: where a division's rounding
    # puts an entry in the wrong bucket unless corrected.
    for trial in range(100):
        m = int(rng.integers(1, 2_000))
        total = rng.lognormal(0.0, 5.0)
        edges = np.arange(m, dtype=np.float64) * (total / m)
        on = edges[rng.integers(0, m, 300)]
        near = [
            on,
            np.nextafter(on, np.inf),
            np.nextafter(on, -np.inf).clip(0.0),
            np.array([total]),
        ]
        cdf = np.sort(np.concatenate(near))
        expected = np.searchsorted(cdf, edges, side=side)
        assert np.array_equal(build_guide(cdf, m, side), expected), trial


def test_draw_is_proportional_to_the_weights() -> None:
    table = GuideTable(np.cumsum([1.0, 0.0, 3.0]))
    drawn = np.bincount(table.draw(np.random.default_rng(0).random(40_000)), minlength=3)
    assert drawn[1] == 0
    assert drawn[2] / drawn[0] == pytest.approx(3.0, rel=0.05)


def test_sort_with_order_is_sort_and_a_stable_argsort() -> None:
    rng = np.random.default_rng(11)
    for bound in (1, 2, 7, 1_000, 1 << 20, 1 << 40, 1 << 60):
        for n in (0, 1, 5, 3_000):
            keys = rng.integers(0, bound, n)
            ordered, order = sort_with_order(keys, bound)
            assert np.array_equal(order, np.argsort(keys, kind="stable"))
            assert np.array_equal(ordered, np.sort(keys))
