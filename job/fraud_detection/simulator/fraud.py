"""Fraud injection: which rows of a day are fraud, and what they look like.

Compromise windows (terminals, cards) are derived statelessly: the compromises
that *start* on day s are a pure function of (seed, s), and day D looks back over
the longest window, so a window that starts on D goes on with the same entity on
D+1 without replaying any earlier day.

The day's fraud rows form a small plan (a few thousand rows), computed whole by
every block and slice; each block overwrites the planned rows it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from fraud_detection.simulator.clock import SECONDS_PER_DAY, DayClock
from fraud_detection.simulator.population import Groups, Population
from fraud_detection.simulator.reference import (
    CATEGORIES,
    CHIP,
    FRAUD_SCENARIO_SHARES,
    FRAUD_SCENARIOS,
    ONLINE,
    ONLINE_ONLY,
    SWIPE,
)
from fraud_detection.simulator.seeding import rng
from fraud_detection.simulator.transactions import (
    Draft,
    card_present_channel,
    category_amount_eur,
    pick_card,
    pick_merchant,
    pick_terminal,
)

TERMINAL_WINDOW_DAYS = (3, 14)  # a compromised terminal stays compromised this long
CARD_WINDOW_DAYS = (2, 10)
TERMINAL_COMPROMISE_RATE = 4e-5  # share of card-present terminals compromised per day
CARD_COMPROMISE_RATE = 2e-4  # share of cards compromised per day

SCENARIO = {name: i for i, name in enumerate(FRAUD_SCENARIOS)}
_MCC = {c.mcc: i for i, c in enumerate(CATEGORIES)}


def _categories(weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    idx = np.array([_MCC[m] for m in weights])
    p = np.array(list(weights.values()))
    return idx, p / p.sum()


# What fraudsters buy: resaleable goods and cash equivalents.
_CARD_FRAUD_CATEGORIES = _categories(
    {"5732": 4, "5944": 2, "5311": 2, "5651": 2, "5999": 2, "6051": 1, "4511": 1, "7011": 1}
)
_TESTING_CATEGORIES = _categories({"8398": 3, "5815": 3, "5816": 2, "4899": 1, "5999": 1})
_CASHOUT_CATEGORIES = _categories({"5732": 3, "6051": 2, "5944": 1})
_TAKEOVER_CATEGORIES = _categories({"6051": 3, "5732": 3, "4511": 2, "5944": 1, "7995": 2})


def _windows(
    seed: int, kind: str, day: date, population: int, rate: float, span: tuple[int, int]
) -> np.ndarray:
    """Entities (indices < population) whose compromise window covers `day`."""
    active: list[np.ndarray] = []
    lam = max(rate * population, 0.5)
    for back in range(span[1]):
        g = rng(seed, kind, day - timedelta(days=back))
        k = g.poisson(lam)
        entity = g.integers(0, population, k)
        length = g.integers(span[0], span[1] + 1, k)
        active.append(entity[length > back])
    return np.unique(np.concatenate(active))


def compromised_terminals(pop: Population, seed: int, day: date) -> np.ndarray:
    card_present = np.flatnonzero(~ONLINE_ONLY[pop.merchant_category[pop.terminal_merchant]])
    picks = _windows(
        seed, "terminal-compromise", day, len(card_present), TERMINAL_COMPROMISE_RATE,
        TERMINAL_WINDOW_DAYS,
    )  # fmt: skip
    return card_present[picks]


def compromised_cards(pop: Population, seed: int, day: date) -> np.ndarray:
    return _windows(
        seed, "card-compromise", day, pop.n_cards, CARD_COMPROMISE_RATE, CARD_WINDOW_DAYS
    )


def split_budget(total: int, shares: np.ndarray) -> np.ndarray:
    """Largest-remainder split of `total` rows by `shares` (sums exactly to total)."""
    raw = total * shares / shares.sum()
    out = np.floor(raw).astype(np.int64)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return out


@dataclass(frozen=True)
class FraudPlan:
    draft: Draft  # sorted by row, one entry per fraud row of the day

    def within(self, start: int, stop: int) -> Draft:
        lo, hi = np.searchsorted(self.draft.row, [start, stop])
        d = self.draft
        return Draft(**{k: v[lo:hi] for k, v in vars(d).items()})


def _pick_city(
    pop: Population, g: np.random.Generator, home_city: np.ndarray, same_country: float
) -> np.ndarray:
    """A city for the fraudster: sometimes in the victim's country, often abroad."""
    n = len(home_city)
    cities = pop.cities
    by_country = Groups.build(
        cities.country.astype(np.int64), int(cities.country.max()) + 1, cities.weight
    )
    anywhere = cities.table.draw(g.random(n))
    domestic = by_country.pick(cities.country[home_city].astype(np.int64), g.random(n))
    return np.where(g.random(n) < same_country, domestic, anywhere)


def _located(
    pop: Population, d: Draft, online: np.ndarray, buyer_city: np.ndarray, g: np.random.Generator
) -> None:
    n = len(d)
    jitter = g.normal(0.0, 0.02, (2, n))
    d.loc_city = np.where(online, buyer_city, pop.merchant_city[d.merchant])
    d.loc_lat = np.where(
        online, pop.cities.lat[buyer_city] + jitter[0], pop.merchant_lat[d.merchant]
    )
    d.loc_lon = np.where(
        online, pop.cities.lon[buyer_city] + jitter[1], pop.merchant_lon[d.merchant]
    )


def _terminal_fraud(pop: Population, seed: int, clock: DayClock, n: int) -> Draft:
    """Skimmed cards at compromised terminals: local victims, card-present, magstripe-heavy."""
    g = rng(seed, "fraud", "terminal", clock.day, clock.rows)
    terminals = compromised_terminals(pop, seed, clock.day)
    if n == 0 or len(terminals) == 0:
        return Draft.empty(0)
    d = Draft.empty(n)
    d.row = g.integers(0, clock.rows, n)
    d.terminal = terminals[g.integers(0, len(terminals), n)]
    d.merchant = pop.terminal_merchant[d.terminal]
    d.category = pop.merchant_category[d.merchant].astype(np.int64)
    victims = pop.customers_by_city.pick(
        pop.merchant_city[d.merchant].astype(np.int64), g.random(n)
    )
    d.customer = np.where(victims >= 0, victims, g.integers(0, pop.n_customers, n))
    d.card = pick_card(pop, d.customer, g.random(n))
    d.amount_eur = category_amount_eur(
        d.category, pop.amount_scale[d.customer], g.standard_normal(n), shift=0.25
    )
    u = g.random(n)
    d.channel = np.where(u < 0.5, SWIPE, card_present_channel(d.amount_eur, g.random(n))).astype(
        np.int8
    )
    _located(pop, d, np.zeros(n, bool), pop.home_city[d.customer], g)
    d.scenario[:] = SCENARIO["compromised_terminal"]
    return d


def _card_fraud(pop: Population, seed: int, clock: DayClock, n: int) -> Draft:
    """A stolen card used for days: bigger tickets, resaleable goods, mostly online."""
    g = rng(seed, "fraud", "card", clock.day, clock.rows)
    cards = compromised_cards(pop, seed, clock.day)
    if n == 0 or len(cards) == 0:
        return Draft.empty(0)
    d = Draft.empty(n)
    d.row = g.integers(0, clock.rows, n)
    d.card = cards[g.integers(0, len(cards), n)]
    d.customer = pop.card_customer[d.card]
    cats, p = _CARD_FRAUD_CATEGORIES
    d.category = cats[g.choice(len(cats), n, p=p)]
    online = g.random(n) < 0.65
    city = _pick_city(pop, g, pop.home_city[d.customer], same_country=0.45)
    d.merchant = pick_merchant(pop, d.category, city, online, g.random(n))
    d.terminal = pick_terminal(pop, d.merchant, online, g.random(n))
    d.amount_eur = category_amount_eur(
        d.category, pop.amount_scale[d.customer], g.standard_normal(n)
    ) * g.uniform(1.5, 5.0, n)
    cloned = np.where(g.random(n) < 0.5, SWIPE, CHIP)
    d.channel = np.where(online, ONLINE, cloned).astype(np.int8)
    _located(pop, d, online, city, g)
    d.scenario[:] = SCENARIO["compromised_card"]
    return d


def _bursts(
    g: np.random.Generator, n: int, sizes: tuple[int, int], gap_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split n rows into bursts; returns (burst index per row, seconds after burst start)."""
    size = g.integers(sizes[0], sizes[1] + 1, n // sizes[0] + 1)
    burst = np.repeat(np.arange(len(size)), size)[:n]
    gaps = g.exponential(gap_s, n)
    gaps[np.r_[True, burst[1:] != burst[:-1]]] = 0.0
    elapsed = np.cumsum(gaps)
    first = np.r_[0, np.flatnonzero(burst[1:] != burst[:-1]) + 1]
    offset = elapsed - np.repeat(elapsed[first], np.diff(np.r_[first, n]))
    return burst, offset


def _testing_fraud(pop: Population, seed: int, clock: DayClock, n: int) -> Draft:
    """Card testing: a bot fires a burst of tiny online charges, sometimes a cash-out after."""
    if n == 0:
        return Draft.empty(0)
    g = rng(seed, "fraud", "testing", clock.day, clock.rows)
    burst, offset = _bursts(g, n, (4, 16), gap_s=40.0)
    k = int(burst.max()) + 1
    start = g.uniform(0, SECONDS_PER_DAY - 1800, k)
    d = Draft.empty(n)
    d.seconds = start[burst] + offset
    d.row = clock.rows_at(d.seconds)
    card = g.integers(0, pop.n_cards, k)
    d.card = card[burst]
    d.customer = pop.card_customer[d.card]
    cats, p = _TESTING_CATEGORIES
    burst_cat = cats[g.choice(len(cats), k, p=p)]
    d.category = burst_cat[burst]
    online = np.ones(n, bool)
    bot_city = _pick_city(pop, g, pop.home_city[pop.card_customer[card]], same_country=0.35)
    d.merchant = pick_merchant(
        pop,
        d.category,
        bot_city[burst],
        online,
        np.repeat(g.random(k), np.bincount(burst, minlength=k)),
    )
    d.amount_eur = g.uniform(0.3, 3.0, n)
    # The last charge of some bursts is the cash-out the tests were for.
    last = np.r_[burst[1:] != burst[:-1], True]
    cashout = last & (g.random(n) < 0.35)
    ccats, cp = _CASHOUT_CATEGORIES
    d.category = np.where(cashout, ccats[g.choice(len(ccats), n, p=cp)], d.category)
    d.merchant = np.where(
        cashout, pick_merchant(pop, d.category, bot_city[burst], online, g.random(n)), d.merchant
    )
    d.amount_eur = np.where(cashout, g.uniform(120.0, 900.0, n), d.amount_eur)
    d.terminal = pop.terminal_start[d.merchant]
    d.channel[:] = ONLINE
    _located(pop, d, online, bot_city[burst], g)
    d.scenario[:] = SCENARIO["card_testing"]
    return d


def _takeover_fraud(pop: Population, seed: int, clock: DayClock, n: int) -> Draft:
    """Account takeover: a few online payments far from home, mostly in the small hours."""
    if n == 0:
        return Draft.empty(0)
    g = rng(seed, "fraud", "takeover", clock.day, clock.rows)
    burst, offset = _bursts(g, n, (1, 4), gap_s=1200.0)
    k = int(burst.max()) + 1
    night = g.random(k) < 0.7
    start = np.where(night, g.uniform(0, 5 * 3600, k), g.uniform(0, SECONDS_PER_DAY, k))
    d = Draft.empty(n)
    d.seconds = np.minimum(start[burst] + offset, SECONDS_PER_DAY - 1)
    d.row = clock.rows_at(d.seconds)
    customer = g.integers(0, pop.n_customers, k)
    d.customer = customer[burst]
    d.card = pick_card(pop, d.customer, g.random(n))
    cats, p = _TAKEOVER_CATEGORIES
    d.category = cats[g.choice(len(cats), n, p=p)]
    online = np.ones(n, bool)
    city = _pick_city(pop, g, pop.home_city[customer], same_country=0.2)[burst]
    d.merchant = pick_merchant(pop, d.category, city, online, g.random(n))
    d.terminal = pop.terminal_start[d.merchant]
    d.amount_eur = category_amount_eur(
        d.category, pop.amount_scale[d.customer], g.standard_normal(n)
    ) * g.uniform(1.2, 3.5, n)
    d.channel[:] = ONLINE
    _located(pop, d, online, city, g)
    d.scenario[:] = SCENARIO["account_takeover"]
    return d


def plan_fraud(pop: Population, seed: int, clock: DayClock, fraud_rate: float) -> FraudPlan:
    """The day's fraud rows: exactly round(rows × rate) before de-duplicating rows."""
    total = round(clock.rows * fraud_rate)
    budget = split_budget(total, FRAUD_SCENARIO_SHARES)
    parts = [
        _terminal_fraud(pop, seed, clock, int(budget[0])),
        _card_fraud(pop, seed, clock, int(budget[1])),
        _testing_fraud(pop, seed, clock, int(budget[2])),
        _takeover_fraud(pop, seed, clock, int(budget[3])),
    ]
    merged = {k: np.concatenate([vars(p)[k] for p in parts]) for k in vars(parts[0])}
    # One payment per row: where two plans chose the same row, the first keeps it.
    _, first = np.unique(merged["row"], return_index=True)
    return FraudPlan(Draft(**{k: v[first] for k, v in merged.items()}))


def inject(block: Draft, plan: FraudPlan) -> Draft:
    """Overwrite the block's planned rows with their fraud payments."""
    start = int(block.row[0]) if len(block) else 0
    fraud = plan.within(start, start + len(block))
    if len(fraud):
        block.overwrite(fraud.row - start, fraud)
    return block
