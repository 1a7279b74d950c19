"""Cards over time: each card slot of a customer is a series of plastics.

A plastic is valid for CARD_VALIDITY_DAYS; then the slot's next plastic (a new key)
takes over. A fraud case blocks the plastic at detection and a new one is issued a few
days later. Everything is a function of the slot, the time and the blocks of the
current validity cycle (episodes.py schedules them), so day D needs no earlier day.

Times are absolute seconds since 2000-01-01 UTC (`abs_seconds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from threading import Lock

import numpy as np

from fraud_detection.simulator.population import Population
from fraud_detection.simulator.sampling import sort_with_order

T0 = date(2000, 1, 1).toordinal()
DAY_S = 86_400
CARD_VALIDITY_DAYS = 1096  # three years
REISSUES_PER_CYCLE = 16  # version codes per validity cycle (more reissues share the last)
# Key index of a plastic: slot + SLOT_STRIDE * version; version 0 is the slot's own key.
SLOT_STRIDE = 1 << 25


def abs_seconds(day: date, seconds: np.ndarray | float) -> np.ndarray:
    return (day.toordinal() - T0) * DAY_S + np.asarray(seconds, dtype=np.float64)


def day_ordinal(t: np.ndarray) -> np.ndarray:
    # floor(floor(t) / d) == floor(t / d) for a whole d: the same days as a float floor
    # division, several times faster in integers.
    return np.floor(t).astype(np.int64) // DAY_S + T0


@dataclass(frozen=True)
class Plastic:
    """Which plastic of its slot each payment used."""

    version: np.ndarray  # cycle * REISSUES_PER_CYCLE + reissues in the cycle
    issued: np.ndarray  # day ordinal
    expiry: np.ndarray  # day ordinal of the first day of the expiry month
    blocked: np.ndarray  # bool: the plastic was blocked at that time


@dataclass(frozen=True)
class Lifecycle:
    """Blocks and reissues of card slots, grouped by slot (CSR).

    Within a slot the events are in no particular order: `plastic` only counts, maxes
    and ORs over them, so any order that groups them by slot gives the same answers."""

    ptr: np.ndarray  # events of slot s: [ptr[s], ptr[s + 1])
    block: np.ndarray  # absolute seconds
    reissue: np.ndarray  # absolute seconds (block + a few days)
    slot: np.ndarray  # each event's slot (so non-decreasing)
    # Each day's view (`on_day`), worked out once however many threads ask for it.
    _days: dict[int, DayEvents] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: Lock = field(default_factory=Lock, init=False, repr=False, compare=False)

    @staticmethod
    def build(n_slots: int, slot: np.ndarray, block: np.ndarray, reissue: np.ndarray) -> Lifecycle:
        grouped, order = sort_with_order(slot, n_slots)
        return Lifecycle(_slot_ptr(grouped, n_slots), block[order], reissue[order], grouped)

    def plastic(self, pop: Population, slot: np.ndarray, t: np.ndarray) -> Plastic:
        """The slot's plastic at time t, and whether it is blocked then."""
        return self._plastic(pop, slot, t, day_ordinal(t), None)

    def on_day(self, pop: Population, day: int) -> DayEvents:
        """These events as payments of one day (an ordinal) see them: the same plastics."""
        with self._lock:
            view = self._days.get(day)
            if view is None or view.pop is not pop:
                view = self._days[day] = DayEvents.settle(self, pop, day)
            return view

    def _plastic(
        self, pop: Population, slot: np.ndarray, t: np.ndarray, today: np.ndarray,
        settled: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    ) -> Plastic:  # fmt: skip
        """`plastic`, on top of `settled` (per query: reissues, the last one, blocked)
        where another part of the slot's events has been counted already."""
        first = pop.card_first_issue[slot]
        cycle = np.maximum(today - first, 0) // CARD_VALIDITY_DAYS
        cycle_start = first + cycle * CARD_VALIDITY_DAYS
        if settled is None:
            reissues = np.zeros(len(slot), dtype=np.int64)
            last = np.full(len(slot), -np.inf)
            blocked = np.zeros(len(slot), dtype=bool)
        else:
            reissues, last, blocked = settled
        lo = self.ptr[slot]
        count = self.ptr[slot + 1] - lo
        busy = np.flatnonzero(count)  # reduceat below needs every run non-empty
        if len(busy):
            lo, count = lo[busy], count[busy]
            # One entry per (query, event of its slot); each query's entries are a run.
            runs = np.cumsum(count) - count
            query = np.repeat(np.arange(len(busy)), count)
            idx = np.repeat(lo - runs, count) + np.arange(len(query))
            r, b, at = self.reissue[idx], self.block[idx], t[busy][query]
            start_s = (cycle_start[busy] - T0).astype(np.float64) * DAY_S
            done = (r <= at) & (r >= start_s[query])
            reissues[busy] += np.add.reduceat(done.astype(np.int64), runs)
            last[busy] = np.maximum(
                last[busy], np.maximum.reduceat(np.where(done, r, -np.inf), runs)
            )
            blocked[busy] |= np.logical_or.reduceat((b <= at) & (at < r), runs)
        return _plastic_of(cycle, cycle_start, reissues, last, blocked)


def _plastic_of(
    cycle: np.ndarray, cycle_start: np.ndarray, reissues: np.ndarray, last: np.ndarray,
    blocked: np.ndarray,
) -> Plastic:  # fmt: skip
    """The plastic from its validity cycle and the reissues counted in it (the last one's
    time, -inf if none)."""
    issued = np.where(reissues > 0, day_ordinal(np.maximum(last, 0)), cycle_start)
    version = cycle * REISSUES_PER_CYCLE + np.minimum(reissues, REISSUES_PER_CYCLE - 1)
    return Plastic(
        version=version.astype(np.int64),
        issued=issued.astype(np.int64),
        expiry=_month_start(cycle_start + CARD_VALIDITY_DAYS),
        blocked=blocked,
    )


@dataclass(frozen=True)
class DayEvents:
    """A Lifecycle as one day's payments see it, worked out once for the day.

    At any second of the day, most events are settled: reissued before the day (counted
    if in the slot's current cycle), or not due until after it, or blocking all day.
    Those are summed per slot here; only the few events inside the day are looked at
    per payment, as `Lifecycle.plastic` would, so the answers are the same.
    """

    life: Lifecycle
    pop: Population
    day: int  # ordinal
    reissues: np.ndarray  # per slot: settled reissues in the day's cycle
    last: np.ndarray  # per slot: the latest of them (absolute seconds; -inf if none)
    blocked: np.ndarray  # per slot: blocked all day
    live: Lifecycle  # the events inside the day
    # Per slot, what `Lifecycle.plastic` answers at any second of the day where the slot
    # has no live event (nearly all of them): a payment then only looks its slot up.
    whole_day: Plastic
    has_live: np.ndarray  # per slot: some event inside the day
    unissued: np.ndarray  # per slot: its first plastic comes after the day

    @staticmethod
    def settle(life: Lifecycle, pop: Population, day: int) -> DayEvents:
        n_slots = len(life.ptr) - 1
        first = pop.card_first_issue[:n_slots]
        cycle = np.maximum(day - first, 0) // CARD_VALIDITY_DAYS
        cycle_start = first + cycle * CARD_VALIDITY_DAYS
        # Each event's cycle start, in seconds, as `plastic` works it out for its query.
        start_s = ((cycle_start - T0).astype(np.float64) * DAY_S)[life.slot]
        opens = float((day - T0) * DAY_S)  # the day is [opens, closes)
        closes = opens + DAY_S
        r, b = life.reissue, life.block

        before, after = r < opens, r >= closes  # reissued before the day / due after it
        blocking = (b <= opens) & after  # blocked at every second of the day
        idle = (b >= closes) | (r <= opens)  # blocked at no second of it
        settled = (before | after) & (blocking | idle)
        done = settled & before & (r >= start_s)
        # Per slot: how many done, and the last of them (a max is exact in any order; far
        # cheaper than a reduceat over some 500 k short runs)...
        done_at = np.flatnonzero(done)
        done_slot = life.slot[done_at]
        reissues = np.bincount(done_slot, minlength=n_slots)
        last = np.full(n_slots, -np.inf)
        np.maximum.at(last, done_slot, r[done_at])
        # ...and whether one blocks all day (a few thousand events: marked one by one).
        blocked = np.zeros(n_slots, dtype=bool)
        blocked[life.slot[blocking]] = True
        live = np.flatnonzero(~settled)  # a few thousand
        slot = life.slot[live]
        live_events = Lifecycle(_slot_ptr(slot, n_slots), b[live], r[live], slot)
        has_live = np.zeros(n_slots, dtype=bool)
        has_live[slot] = True
        # `Lifecycle._plastic` for every slot at once, with no live event: today is the day.
        whole_day = _plastic_of(cycle, cycle_start, reissues, last, blocked)
        return DayEvents(
            life, pop, day, reissues, last, blocked, live_events, whole_day, has_live, first > day
        )

    def inside(self, pop: Population, t: np.ndarray) -> bool:
        """Whether the day's answers hold: the same population, and every t in the day.

        day_ordinal(t) is the day exactly when opens <= t < closes (whole seconds both),
        so two reductions tell, with no ordinal per payment."""
        opens = float((self.day - T0) * DAY_S)
        return pop is self.pop and (not len(t) or (t.min() >= opens and t.max() < opens + DAY_S))

    def plastic(self, pop: Population, slot: np.ndarray, t: np.ndarray) -> Plastic:
        """`Lifecycle.plastic`; much cheaper when every t falls inside the day."""
        if not self.inside(pop, t):
            return self.life._plastic(pop, slot, t, day_ordinal(t), None)
        out = Plastic(**{f.name: getattr(self.whole_day, f.name)[slot] for f in fields(Plastic)})
        # Slots with events inside the day (a few hundred payments): worked out per payment.
        rows = np.flatnonzero(self.has_live[slot])
        if len(rows):
            s = slot[rows]
            settled = (self.reissues[s], self.last[s], self.blocked[s])
            today = np.full(len(rows), self.day, dtype=np.int64)
            now = self.live._plastic(pop, s, t[rows], today, settled)
            for f in fields(Plastic):
                getattr(out, f.name)[rows] = getattr(now, f.name)
        return out

    def issued_slot(self, pop: Population, slot: np.ndarray, t: np.ndarray) -> np.ndarray:
        """`issued_slot`, by the day's table when every t falls inside the day."""
        if not self.inside(pop, t):
            return issued_slot(pop, slot, t)
        return _first_card_where(pop, slot, np.flatnonzero(self.unissued[slot]))


def _slot_ptr(slot: np.ndarray, n_slots: int) -> np.ndarray:
    """CSR bounds of events grouped by slot: slot s's are [ptr[s], ptr[s + 1])."""
    ptr = np.zeros(n_slots + 1, dtype=np.int64)
    np.cumsum(np.bincount(slot, minlength=n_slots), out=ptr[1:])
    return ptr


def issued_slot(pop: Population, slot: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The slot, or the customer's first card where the slot's card is not issued yet."""
    return issued_slot_on(pop, slot, day_ordinal(t))


def issued_slot_on(pop: Population, slot: np.ndarray, day: np.ndarray) -> np.ndarray:
    """`issued_slot` for times whose days (ordinals) are known already."""
    return _first_card_where(pop, slot, np.flatnonzero(pop.card_first_issue[slot] > day))


def _first_card_where(pop: Population, slot: np.ndarray, early: np.ndarray) -> np.ndarray:
    """The slots, with the customer's first card at the positions `early`."""
    out = slot.astype(np.result_type(slot, pop.card_start))  # np.where's dtype, a copy
    out[early] = pop.card_start[pop.card_customer[slot[early]]]  # only the few not issued
    return out


def _month_start_of(ordinal: np.ndarray) -> np.ndarray:
    days = (ordinal - date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype("datetime64[D]")
    return months.astype(np.int64) + date(1970, 1, 1).toordinal()


# datetime64's conversions are slow per row: look the days of 2000-2199 up instead.
_TABLE_DAYS = date(2200, 1, 1).toordinal() - T0
_MONTH_STARTS = _month_start_of(np.arange(T0, T0 + _TABLE_DAYS))


def _month_start(ordinal: np.ndarray) -> np.ndarray:
    """The first day of each ordinal's month."""
    at = np.asarray(ordinal, dtype=np.int64) - T0
    if len(at) and (at.min() < 0 or at.max() >= _TABLE_DAYS):
        return _month_start_of(at + T0)
    return _MONTH_STARTS[at]


def plastic_index(slot: np.ndarray, version: np.ndarray) -> np.ndarray:
    """The key index of a plastic (keys.py turns it into `K…`)."""
    slot, version = slot.astype(np.int64, copy=False), version.astype(np.int64, copy=False)
    return slot + np.int64(SLOT_STRIDE) * version
