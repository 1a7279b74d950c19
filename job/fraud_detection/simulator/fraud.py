"""Fraud injection: which rows of a day are fraud, and what they look like.

Everything that spans days is derived statelessly: what *starts* on day s (a
compromised terminal or card, a skimmed card, a tested card) is a pure function of
(seed, s), and day D looks back over the longest window, so a window that starts on
D goes on with the same entity on D+1 without replaying any earlier day.

The day's planned rows (a few thousand) are computed whole by every block and
slice; each block overwrites the planned rows it holds. Most are fraud; the rest are
the genuine payments at compromised terminals during which cards are skimmed.

Where a fraud row sits in the day comes from its own stream, before anything else
about it is drawn, so `fraud_rows` (used by the labels feed) recomputes a day's
fraud rows without building its payments.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from fraud_detection.schema import FRAUD_SCENARIOS
from fraud_detection.simulator.clock import SECONDS_PER_DAY, DayClock
from fraud_detection.simulator.population import Population
from fraud_detection.simulator.profiles import Profile
from fraud_detection.simulator.recurring import renewals
from fraud_detection.simulator.reference import (
    CATEGORIES,
    CATEGORY_ONLINE,
    CATEGORY_WEIGHTS,
    CHIP,
    ONLINE,
    SWIPE,
)
from fraud_detection.simulator.seeding import mix64, rng, salt_for
from fraud_detection.simulator.timeline import (
    ATO_LOCAL_VARIANT_FROM,
    campaign_multipliers,
    in_testing_wave,
    scenario_drift,
    tactics,
)
from fraud_detection.simulator.transactions import (
    Draft,
    card_present_channel,
    category_amount_eur,
    customer_devices,
    entry_modes,
    ip_location,
    pick_card,
    pick_merchant,
    pick_terminal,
)

TERMINAL_WINDOW_DAYS = (3, 14)  # a compromised terminal stays compromised this long
CARD_WINDOW_DAYS = (2, 10)
TERMINAL_COMPROMISE_RATE = 4e-5  # share of card-present terminals compromised per day
CARD_COMPROMISE_RATE = 2e-4  # share of cards compromised per day
SKIMS_PER_TERMINAL_DAY = 6.0  # cards skimmed by a compromised terminal per day (genuine payments)
COUNTERFEIT_LAG_DAYS = (1, 28)  # skimmed cards are cloned and used this many days later
TEST_PASS_SHARE = 0.55  # tested cards that turn out live and are sold on for cash-out
CASHOUT_LAG_DAYS = (1, 6)  # a live tested card is cashed out this many days later
CASHOUT_SHARE = 0.5  # of compromised-card fraud, the share that cashes out tested cards
FRAUD_MOBILE = 0.25  # fraudsters on mobile carriers (located at the gateway city)

SCENARIO = {name: i for i, name in enumerate(FRAUD_SCENARIOS)}
TERMINAL, CARD, TESTING, TAKEOVER = range(4)
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
_WAVE_TESTING_CATEGORIES = _categories({"4899": 4, "5816": 3, "5815": 1})
_CASHOUT_CATEGORIES = _categories({"5732": 3, "6051": 2, "5944": 1, "5999": 1})
_TAKEOVER_CATEGORIES = _categories({"6051": 3, "5732": 3, "4511": 2, "5944": 1, "7995": 2})
_LOCAL_TAKEOVER_CATEGORIES = _categories({"6051": 4, "5999": 2, "5815": 2, "5732": 1})
# Fraudsters also buy what everyone buys, to blend in: the ordinary mix, online or in person.
_TYPICAL_ONLINE = (
    np.arange(len(CATEGORIES)),
    CATEGORY_WEIGHTS * CATEGORY_ONLINE / (CATEGORY_WEIGHTS * CATEGORY_ONLINE).sum(),
)
_TYPICAL_ANY = (np.arange(len(CATEGORIES)), CATEGORY_WEIGHTS)


def _draw_categories(
    g: np.random.Generator, n: int, own: tuple[np.ndarray, np.ndarray],
    typical: tuple[np.ndarray, np.ndarray], typical_share: float,
) -> np.ndarray:  # fmt: skip
    """The scenario's favourite categories, blended with the ordinary mix."""
    cats, p = own
    tcats, tp = typical
    return np.where(
        g.random(n) < typical_share,
        tcats[g.choice(len(tcats), n, p=tp)],
        cats[g.choice(len(cats), n, p=p)],
    )


@lru_cache(maxsize=1024)
def _window_draws(
    seed: int, kind: str, day: date, population: int, rate: float, span: tuple[int, int]
) -> np.ndarray:
    """Uniforms in [0, 1), one per compromise whose window covers `day`."""
    active: list[np.ndarray] = []
    lam = max(rate * population, 0.5)
    for back in range(span[1]):
        g = rng(seed, kind, day - timedelta(days=back))
        k = g.poisson(lam)
        entity = g.random(k)
        length = g.integers(span[0], span[1] + 1, k)
        active.append(entity[length > back])
    out = np.concatenate(active)
    out.setflags(write=False)
    return out


def compromised_terminals(pop: Population, seed: int, day: date) -> np.ndarray:
    card_present = pop.card_present_terminals
    u = _window_draws(
        seed, "terminal-compromise", day, len(card_present), TERMINAL_COMPROMISE_RATE,
        TERMINAL_WINDOW_DAYS,
    )  # fmt: skip
    return np.unique(card_present[(u * len(card_present)).astype(np.int64)])


def compromised_cards(pop: Population, seed: int, day: date) -> np.ndarray:
    """Cards stolen outright (phishing, malware, lost and stolen), credit more often."""
    u = _window_draws(
        seed, "card-compromise", day, pop.n_cards, CARD_COMPROMISE_RATE, CARD_WINDOW_DAYS
    )
    return np.unique(pop.card_risk.draw(u))


def skimmed_cards(pop: Population, seed: int, day: date) -> tuple[np.ndarray, np.ndarray]:
    """(terminal, card) for each card skimmed on `day`: local customers paying there."""
    terminals = compromised_terminals(pop, seed, day)
    g = rng(seed, "skims", day)
    per = g.poisson(SKIMS_PER_TERMINAL_DAY, len(terminals))
    terminal = np.repeat(terminals, per)
    city = pop.merchant_city[pop.terminal_merchant[terminal]].astype(np.int64)
    victim = pop.customers_by_city.pick(city, g.random(len(terminal)))
    victim = np.where(victim >= 0, victim, g.integers(0, pop.n_customers, len(terminal)))
    return terminal, pick_card(pop, victim, g.random(len(terminal)))


def fraud_budget(seed: int, day: date, rows: int, rate: float, profile: Profile) -> np.ndarray:
    """Fraud rows per scenario: campaigns make the volume overdispersed and bursty.

    The slow drift reshapes the mix (the total stays at the target on average);
    events (testing waves, breaches) and campaign shocks come on top.
    """
    drift = scenario_drift(day)
    slow = profile.shares * np.array([drift[TERMINAL], 1.0, 1.0, drift[TAKEOVER]])
    shares = slow / slow.sum() * np.array([1.0, drift[CARD], drift[TESTING], 1.0])
    mean = rows * rate * shares * campaign_multipliers(seed, day, len(shares))
    return rng(seed, "fraud-volume", day, rows).poisson(mean).astype(np.int64)


@dataclass(frozen=True)
class FraudPlan:
    draft: Draft  # sorted by row, one entry per planned row of the day

    def within(self, start: int, stop: int) -> Draft:
        lo, hi = np.searchsorted(self.draft.row, [start, stop])
        d = self.draft
        return Draft(**{f.name: getattr(d, f.name)[lo:hi] for f in fields(d)})


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


@dataclass(frozen=True)
class Placement:
    """Where one scenario's rows sit in the day; bursts group rows of one card/customer."""

    row: np.ndarray
    burst: np.ndarray  # burst index per row (0..k-1), or one burst per row


def _place(scenario: int, seed: int, clock: DayClock, n: int) -> Placement:
    g = rng(seed, "fraud-rows", FRAUD_SCENARIOS[scenario], clock.day, clock.rows)
    if n == 0:
        return Placement(np.zeros(0, np.int64), np.zeros(0, np.int64))
    if scenario in (TERMINAL, CARD):
        return Placement(g.integers(0, clock.rows, n), np.arange(n))
    if scenario == TESTING:
        burst, offset = _bursts(g, n, (4, 16), gap_s=40.0)
        start = g.uniform(0, SECONDS_PER_DAY - 1800, int(burst.max()) + 1)
    else:
        burst, offset = _bursts(g, n, (1, 4), gap_s=1200.0)
        k = int(burst.max()) + 1
        night = g.random(k) < tactics(clock.day).takeover_night
        start = np.where(night, g.uniform(0, 5 * 3600, k), g.uniform(0, SECONDS_PER_DAY, k))
    seconds = np.minimum(start[burst] + offset, SECONDS_PER_DAY - 1)
    return Placement(clock.rows_at(seconds), burst)


def first_of_each(values: np.ndarray) -> np.ndarray:
    """Index of the first occurrence of each distinct value, in value order."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    return order[np.r_[True, ordered[1:] != ordered[:-1]]] if len(values) else order


def fraud_rows(
    seed: int, clock: DayClock, rate: float, profile: Profile
) -> tuple[np.ndarray, np.ndarray]:
    """(row, scenario) of the day's fraud, sorted by row: cheap, no payments built."""
    budget = fraud_budget(seed, clock.day, clock.rows, rate, profile)
    places = [_place(s, seed, clock, int(budget[s])) for s in range(len(budget))]
    row = np.concatenate([p.row for p in places])
    scenario = np.repeat(np.arange(len(places)), [len(p.row) for p in places])
    first = first_of_each(row)  # where two plans chose a row, the first keeps it
    return row[first], scenario[first].astype(np.int8)


def _pick_city(
    pop: Population, g: np.random.Generator, home_city: np.ndarray, same_country: float
) -> np.ndarray:
    """A city for the fraudster: sometimes in the victim's country, often abroad."""
    n = len(home_city)
    anywhere = pop.cities.table.draw(g.random(n))
    domestic = pop.cities_by_country.pick(pop.home_country_of_city(home_city), g.random(n))
    return np.where(g.random(n) < same_country, domestic, anywhere)


def _fraudster_city(
    pop: Population, g: np.random.Generator, victim_home: np.ndarray, local: float,
    same_country: float,
) -> np.ndarray:  # fmt: skip
    """Where the fraudster appears to be: often a residential proxy in the victim's city."""
    elsewhere = _pick_city(pop, g, victim_home, same_country)
    return np.where(g.random(len(victim_home)) < local, victim_home, elsewhere)


def _located(
    pop: Population, d: Draft, online: np.ndarray, buyer_city: np.ndarray,
    g: np.random.Generator, vpn: float,
) -> None:  # fmt: skip
    """Card-present at the terminal; online where IP geolocation puts the fraudster."""
    d.loc_city = pop.merchant_city[d.merchant].astype(np.int64)
    d.loc_lat = pop.merchant_lat[d.merchant]
    d.loc_lon = pop.merchant_lon[d.merchant]
    web = np.flatnonzero(online)
    city, lat, lon = ip_location(pop, g, buyer_city[web], FRAUD_MOBILE, vpn)
    d.loc_city[web], d.loc_lat[web], d.loc_lon[web] = city, lat, lon


def _online_market(
    g: np.random.Generator, city: np.ndarray, pop: Population, domestic: float
) -> np.ndarray:
    return np.where(g.random(len(city)) < domestic, pop.home_country_of_city(city), -1)


def _skims(pop: Population, seed: int, clock: DayClock) -> Draft:
    """Genuine payments at compromised terminals: the moments cards are skimmed."""
    terminal, card = skimmed_cards(pop, seed, clock.day)
    n = len(terminal)
    g = rng(seed, "skim-rows", clock.day, clock.rows)
    d = Draft.empty(n)
    d.row = g.integers(0, clock.rows, n)
    d.terminal = terminal
    d.merchant = pop.terminal_merchant[terminal]
    d.category = pop.merchant_category[d.merchant].astype(np.int64)
    d.card = card
    d.customer = pop.card_customer[card]
    d.amount_eur = category_amount_eur(
        d.category, pop.amount_scale[d.customer], g.standard_normal(n)
    )
    d.channel = card_present_channel(d.amount_eur, g.random(n))
    _located(pop, d, np.zeros(n, bool), pop.home_city[d.customer], g, 0.0)
    d.scenario[:] = -1
    d.entry = entry_modes(d.channel, g.random(n), on_file=np.zeros(n, bool))
    d.sca = (d.channel == CHIP).astype(np.int8)
    return d


# The fraud rings' phones, emulators and bots: each is used on ~25 payments of many
# victims, for a few days, then thrown away.
RING_PAYMENTS_PER_DEVICE = 25
RING_DEVICE_DAYS = 3
VICTIM_DEVICE_TAKEOVERS = 0.35  # takeovers run on the victim's own (infected) device


def _authorise(
    d: Draft, g: np.random.Generator, seed: int, day: date, online: np.ndarray, sca: float,
    on_file: float, declined: np.ndarray | float,
) -> None:  # fmt: skip
    """Entry mode, SCA, device and decline of fraud rows."""
    n = len(d)
    d_day_ordinal = day.toordinal()
    d.entry = entry_modes(d.channel, g.random(n), on_file=online & (g.random(n) < on_file))
    d.sca = np.where(online, g.random(n) < sca, d.channel == CHIP).astype(np.int8)
    per_day = max(3, round(int(online.sum()) / RING_PAYMENTS_PER_DEVICE / RING_DEVICE_DAYS))
    born = d_day_ordinal - g.integers(0, RING_DEVICE_DAYS, n)  # devices live a few days
    which = born.astype(np.uint64) * np.uint64(1 << 20) + g.integers(0, per_day, n).astype(
        np.uint64
    )
    ring = mix64(which, salt_for(seed, "fraud-device"))
    d.device = np.where(online, ring, 0).astype(np.uint64)
    d.declined = (g.random(n) < declined).astype(np.int8)


def _cloned_channel(g: np.random.Generator, n: int, amount: np.ndarray) -> np.ndarray:
    # Counterfeits mostly go through as chip (fallback) or tap; some magstripe.
    u = g.random(n)
    return np.where(
        u < 0.05, SWIPE, np.where(u < 0.55, CHIP, card_present_channel(amount, g.random(n)))
    )


def _counterfeit_fraud(pop: Population, seed: int, clock: DayClock, place: Placement) -> Draft:
    """Cards skimmed at compromised terminals days ago, cloned and used elsewhere."""
    n = len(place.row)
    g = rng(seed, "fraud", "terminal", clock.day, clock.rows)
    pool = [
        skimmed_cards(pop, seed, clock.day - timedelta(days=lag))[1]
        for lag in range(COUNTERFEIT_LAG_DAYS[0], COUNTERFEIT_LAG_DAYS[1] + 1)
    ]
    cards = np.concatenate(pool)
    if len(cards) == 0:
        cards = pop.card_risk.draw(g.random(max(n, 1)))
    d = Draft.empty(n)
    d.row = place.row
    d.card = cards[g.integers(0, len(cards), n)]
    d.customer = pop.card_customer[d.card]
    d.category = _draw_categories(g, n, _CARD_FRAUD_CATEGORIES, _TYPICAL_ANY, 0.5)
    online = g.random(n) < 0.3  # the card data, not the clone, used online
    city = _pick_city(pop, g, pop.home_city[d.customer], same_country=0.55)
    market = _online_market(g, city, pop, 0.4)
    d.merchant = pick_merchant(pop, d.category, city, online, g.random(n), online_country=market)
    d.terminal = pick_terminal(pop, d.merchant, online, g.random(n))
    d.amount_eur = category_amount_eur(
        d.category, pop.amount_scale[d.customer], g.standard_normal(n), shift=0.4
    )
    d.channel = np.where(online, ONLINE, _cloned_channel(g, n, d.amount_eur)).astype(np.int8)
    _located(pop, d, online, city, g, vpn=0.15)
    d.scenario[:] = SCENARIO["compromised_terminal"]
    _authorise(d, g, seed, clock.day, online, sca=0.1, on_file=0.0, declined=0.15)
    return d


def _tested(pop: Population, seed: int, day: date, n_bursts: int) -> tuple[np.ndarray, np.ndarray]:
    """(card, passed) for each testing burst of a day: the first draws of its stream."""
    g = rng(seed, "fraud", "testing-cards", day)
    return pop.card_risk.draw(g.random(n_bursts)), g.random(n_bursts) < TEST_PASS_SHARE


def live_tested_cards(
    pop: Population, seed: int, day: date, rows: int, rate: float, profile: Profile
) -> np.ndarray:
    """Cards tested on earlier days that passed: recomputed from those days' budgets."""
    out: list[np.ndarray] = []
    for lag in range(CASHOUT_LAG_DAYS[0], CASHOUT_LAG_DAYS[1] + 1):
        earlier = DayClock.for_day(day - timedelta(days=lag), rows)
        n = int(fraud_budget(seed, earlier.day, rows, rate, profile)[TESTING])
        place = _place(TESTING, seed, earlier, n)
        k = int(place.burst.max()) + 1 if n else 0
        card, passed = _tested(pop, seed, earlier.day, k)
        out.append(card[passed])
    return np.concatenate(out)


def _card_fraud(
    pop: Population, seed: int, clock: DayClock, place: Placement, cashout: np.ndarray
) -> Draft:
    """Stolen cards used for days, and tested cards cashed out: bigger tickets, resaleable goods."""
    n = len(place.row)
    g = rng(seed, "fraud", "card", clock.day, clock.rows)
    stolen = compromised_cards(pop, seed, clock.day)
    if len(stolen) == 0:
        stolen = pop.card_risk.draw(g.random(1))
    t = tactics(clock.day)
    d = Draft.empty(n)
    d.row = place.row
    is_cashout = (g.random(n) < CASHOUT_SHARE) & (len(cashout) > 0)
    d.card = np.where(
        is_cashout,
        cashout[g.integers(0, max(len(cashout), 1), n)] if len(cashout) else 0,
        stolen[g.integers(0, len(stolen), n)],
    )
    d.customer = pop.card_customer[d.card]
    d.category = np.where(
        is_cashout,
        _draw_categories(g, n, _CASHOUT_CATEGORIES, _TYPICAL_ONLINE, 0.3),
        _draw_categories(g, n, _CARD_FRAUD_CATEGORIES, _TYPICAL_ONLINE, t.card_typical),
    )
    online = g.random(n) < np.where(is_cashout, 0.9, 0.65)
    city = _fraudster_city(pop, g, pop.home_city[d.customer], local=t.card_local, same_country=0.45)
    market = _online_market(g, city, pop, 0.45 + 0.4 * t.card_typical)
    d.merchant = pick_merchant(pop, d.category, city, online, g.random(n), online_country=market)
    d.terminal = pick_terminal(pop, d.merchant, online, g.random(n))
    d.amount_eur = category_amount_eur(
        d.category, pop.amount_scale[d.customer], g.standard_normal(n)
    ) * g.uniform(*t.card_amount, n)
    d.channel = np.where(online, ONLINE, _cloned_channel(g, n, d.amount_eur)).astype(np.int8)
    _located(pop, d, online, city, g, vpn=0.15)
    d.scenario[:] = SCENARIO["compromised_card"]
    _authorise(d, g, seed, clock.day, online, sca=0.15, on_file=0.05, declined=0.2)
    return d


def _testing_fraud(pop: Population, seed: int, clock: DayClock, place: Placement) -> Draft:
    """Card testing: a bot fires a burst of tiny online charges at one card."""
    n = len(place.row)
    if n == 0:
        return Draft.empty(0)
    k = int(place.burst.max()) + 1
    card, passed = _tested(pop, seed, clock.day, k)
    g = rng(seed, "fraud", "testing", clock.day, clock.rows)
    burst = place.burst
    d = Draft.empty(n)
    d.row = place.row
    d.card = card[burst]
    d.customer = pop.card_customer[d.card]
    own = _WAVE_TESTING_CATEGORIES if in_testing_wave(clock.day) else _TESTING_CATEGORIES
    d.category = _draw_categories(g, k, own, _TYPICAL_ONLINE, 0.3)[burst]
    online = np.ones(n, bool)
    bot_city = _fraudster_city(
        pop, g, pop.home_city[pop.card_customer[card]], local=0.3, same_country=0.35
    )
    d.merchant = pick_merchant(
        pop, d.category, bot_city[burst], online, g.random(k)[burst],
        online_country=_online_market(g, bot_city, pop, 0.3)[burst],
    )  # fmt: skip
    d.amount_eur = g.uniform(0.3, 3.0, n)
    d.terminal = pop.terminal_start[d.merchant]
    d.channel[:] = ONLINE
    _located(pop, d, online, bot_city[burst], g, vpn=0.3)
    d.scenario[:] = SCENARIO["card_testing"]
    # Tests on dead cards are mostly declined; on live cards mostly approved.
    declined = np.where(passed, 0.1, 0.75)[burst]
    _authorise(d, g, seed, clock.day, online, sca=0.02, on_file=0.0, declined=declined)
    first_of_burst = np.r_[0, np.flatnonzero(burst[1:] != burst[:-1]) + 1]
    d.device = d.device[first_of_burst][burst]  # one bot per burst
    return d


def _takeover_fraud(pop: Population, seed: int, clock: DayClock, place: Placement) -> Draft:
    """Account takeover: a few online payments from the victim's account.

    Until ATO_LOCAL_VARIANT_FROM mostly at night from far away; from then on a variant
    from residential proxies in the victim's own city, in daytime, into crypto and gift cards.
    """
    n = len(place.row)
    if n == 0:
        return Draft.empty(0)
    variant = clock.day >= ATO_LOCAL_VARIANT_FROM
    g = rng(seed, "fraud", "takeover", clock.day, clock.rows)
    burst = place.burst
    k = int(burst.max()) + 1
    d = Draft.empty(n)
    d.row = place.row
    customer = g.integers(0, pop.n_customers, k)
    d.customer = customer[burst]
    d.card = pick_card(pop, d.customer, g.random(n))
    own = _LOCAL_TAKEOVER_CATEGORIES if variant else _TAKEOVER_CATEGORIES
    d.category = _draw_categories(g, n, own, _TYPICAL_ONLINE, 0.35)
    online = np.ones(n, bool)
    city = _fraudster_city(
        pop, g, pop.home_city[customer], local=tactics(clock.day).takeover_local, same_country=0.2
    )[burst]
    market = _online_market(g, city, pop, 0.5)
    d.merchant = pick_merchant(pop, d.category, city, online, g.random(n), online_country=market)
    d.terminal = pop.terminal_start[d.merchant]
    d.amount_eur = category_amount_eur(
        d.category, pop.amount_scale[d.customer], g.standard_normal(n)
    ) * g.uniform(1.2, 3.5, n)
    d.channel[:] = ONLINE
    local = tactics(clock.day).takeover_local
    _located(pop, d, online, city, g, vpn=0.25 - 0.15 * local)
    d.scenario[:] = SCENARIO["account_takeover"]
    # Inside the account the stored card is used; a SIM swap also passes SCA. Some
    # sessions are hijacked on the victim's own device (remote-access malware).
    _authorise(d, g, seed, clock.day, online, sca=0.1 + 0.5 * local, on_file=0.6, declined=0.08)
    victims_device = customer_devices(pop.seed, d.customer, g.random(n))
    hijacked = g.random(n) < VICTIM_DEVICE_TAKEOVERS
    d.device = np.where(hijacked, victims_device, d.device).astype(np.uint64)
    return d


def plan_fraud(
    pop: Population, seed: int, clock: DayClock, fraud_rate: float, profile: Profile
) -> FraudPlan:
    """The day's planned rows: its fraud, then genuine skimmed payments and subscriptions."""
    budget = fraud_budget(seed, clock.day, clock.rows, fraud_rate, profile)
    places = [_place(s, seed, clock, int(budget[s])) for s in range(len(budget))]
    cashout = live_tested_cards(pop, seed, clock.day, clock.rows, fraud_rate, profile)
    parts = [
        _counterfeit_fraud(pop, seed, clock, places[TERMINAL]),
        _card_fraud(pop, seed, clock, places[CARD], cashout),
        _testing_fraud(pop, seed, clock, places[TESTING]),
        _takeover_fraud(pop, seed, clock, places[TAKEOVER]),
        _skims(pop, seed, clock),
        renewals(pop, seed, clock),
    ]
    merged = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Draft)}
    # One payment per row: where two plans chose the same row, the first keeps it.
    first = first_of_each(merged["row"])
    return FraudPlan(Draft(**{k: v[first] for k, v in merged.items()}))


def inject(block: Draft, plan: FraudPlan) -> Draft:
    """Overwrite the block's planned rows with their planned payments."""
    start = int(block.row[0]) if len(block) else 0
    fraud = plan.within(start, start + len(block))
    if len(fraud):
        block.overwrite(fraud.row - start, fraud)
    return block
