"""A day's view of the card lifecycle (DayEvents) answers exactly what Lifecycle does."""

from __future__ import annotations

from dataclasses import fields
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest

from fraud_detection.simulator.cards import DAY_S, T0, DayEvents, Lifecycle, Plastic, issued_slot
from fraud_detection.simulator.population import Population

DAY = 735_000  # an ordinal (2013); any day in the cards' range will do


def _world(seed: int) -> tuple[Population, Lifecycle]:
    rng = np.random.default_rng(seed)
    n_slots, n_events = 3_000, 9_000
    first = DAY + rng.integers(-2_500, 30, n_slots)  # some cards are not issued yet
    customer = np.arange(n_slots) // 2  # two slots a customer
    pop = cast(
        Population,
        SimpleNamespace(card_first_issue=first, card_customer=customer, card_start=2 * customer),
    )
    opens = float((DAY - T0) * DAY_S)
    slot = rng.integers(0, n_slots, n_events)
    block = opens + rng.uniform(-1_200, 3, n_events) * DAY_S
    # A third of the events inside the day or on its edges, where time matters.
    near = rng.random(n_events) < 1 / 3
    block[near] = opens + rng.choice([-2.0, -0.5, 0.0, 0.3, 0.9, 1.0], near.sum()) * DAY_S
    reissue = block + rng.choice([0.5, 1.0, 2.0, 6.0], n_events) * DAY_S
    return pop, Lifecycle.build(n_slots, slot, block, reissue)


def _same(a: Plastic, b: Plastic) -> None:
    for f in fields(Plastic):
        assert np.array_equal(getattr(a, f.name), getattr(b, f.name)), f.name


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_day_view_is_the_lifecycle(seed: int) -> None:
    pop, life = _world(seed)
    rng = np.random.default_rng(seed + 10)
    opens = float((DAY - T0) * DAY_S)
    slot = rng.integers(0, len(life.ptr) - 1, 20_000)
    t = opens + rng.random(len(slot)) * DAY_S
    # The day's edges and the events' own instants.
    t[:6] = [opens, opens + 1e-6, np.nextafter(opens + DAY_S, 0.0), opens + DAY_S / 2, 0, 0]
    inside = (life.reissue >= opens) & (life.reissue < opens + DAY_S)
    hits = np.flatnonzero(inside)[: len(slot) // 4]
    owner = np.searchsorted(life.ptr, hits, side="right") - 1
    slot[6 : 6 + len(hits)], t[6 : 6 + len(hits)] = owner, life.reissue[hits]
    t[4:6] = opens  # keep every time inside the day
    view = life.on_day(pop, DAY)
    assert len(view.live.block) < len(life.block)  # most events are settled
    _same(view.plastic(pop, slot, t), life.plastic(pop, slot, t))
    assert np.array_equal(view.issued_slot(pop, slot, t), issued_slot(pop, slot, t))
    # Times on other days take the general path, with the same answers.
    other = t + DAY_S * rng.integers(-3, 3, len(t))
    _same(view.plastic(pop, slot, other), life.plastic(pop, slot, other))
    assert np.array_equal(view.issued_slot(pop, slot, other), issued_slot(pop, slot, other))


def test_day_view_is_worked_out_once() -> None:
    pop, life = _world(4)
    view = life.on_day(pop, DAY)
    assert isinstance(view, DayEvents)
    assert life.on_day(pop, DAY) is view
    assert life.on_day(pop, DAY + 1) is not view
