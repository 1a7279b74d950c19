"""A day's planned rows: fraud attempts of the episodes that overlap it, the genuine
payments that will be disputed (friendly fraud), and subscription renewals.

Fraud is drawn from the victim's own behaviour, then perturbed the way each scenario
perturbs it: the victim's categories, shops and spending level, with a tilt towards
resaleable goods, a new merchant, escalating amounts, another place or device. Every
field follows the rules legit payments follow (SCA, entry modes, declines), so no
combination of fields is possible for fraud alone.

The plan (a few thousand rows) is computed whole by every block and slice; each block
overwrites the planned rows it holds, so slices still add up to the day.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np

from fraud_detection.simulator.cards import DAY_S, T0, Lifecycle, abs_seconds
from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.episodes import (
    CARD,
    LOST,
    TAKEOVER,
    TERMINAL,
    TESTING,
    Attempts,
    Episodes,
    Regime,
    attempts_on,
)
from fraud_detection.simulator.portfolio import Portfolio, unit
from fraud_detection.simulator.recurring import renewals
from fraud_detection.simulator.reference import (
    CATEGORIES,
    CATEGORY_ONLINE,
    CATEGORY_WEIGHTS,
    CHIP,
    CONTACTLESS,
    COUNTRY_EEA,
    E_CONTACTLESS,
    E_ECOMMERCE,
    E_WALLET,
    ONLINE,
    SWIPE,
)
from fraud_detection.simulator.seeding import mix64, rng, salt_for
from fraud_detection.simulator.timeline import in_testing_wave, tactics
from fraud_detection.simulator.transactions import (
    Draft,
    R,
    category_amount_eur,
    customer_devices,
    entry_modes,
    ip_location,
    pick_merchant,
    pick_terminal,
    regular_draw,
    sca_required,
)

_MCC = {c.mcc: i for i, c in enumerate(CATEGORIES)}


def _categories(weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    idx = np.array([_MCC[m] for m in weights])
    p = np.array(list(weights.values()))
    return idx, np.cumsum(p / p.sum())


# What each scenario tilts towards (resaleable goods, cash equivalents, tiny tests).
_TILT = {
    TERMINAL: _categories({"5732": 3, "5944": 2, "5311": 2, "5541": 2, "5411": 2, "5999": 1}),
    CARD: _categories(
        {"5732": 4, "5944": 1, "5651": 2, "5999": 2, "4511": 1, "7011": 1, "5816": 1}
    ),
    TESTING: _categories({"8398": 3, "5815": 3, "5816": 2, "4899": 1, "5999": 1}),
    TAKEOVER: _categories({"6051": 3, "5732": 2, "4511": 1, "5816": 2, "7995": 1}),
    LOST: _categories({"5411": 3, "5499": 3, "5541": 2, "5912": 1, "5814": 1, "5732": 1}),
}
_WAVE_TESTING = _categories({"4899": 4, "5816": 3, "5815": 1})
TILT_SHARE = np.array([0.2, 0.2, 1.0, 0.25, 0.2])  # the rest: the victim's own mix
ONLINE_SHARE = np.array([0.1, 0.7, 1.0, 1.0, 0.15])
# Log-amount shift per scenario, and per attempt as a spree escalates (up to the 6th).
AMOUNT_SHIFT = np.array([0.1, 0.05, 0.0, 0.15, 0.0])
ESCALATION = 0.05
ESCALATION_ATTEMPTS = 6
# Shops the victim already uses: a takeover orders from the account's usual stores, a
# thief near home walks into the victim's usual shops, some stolen details go to the big
# marketplaces everyone uses.
AT_REGULAR_SHOP = np.array([0.2, 0.3, 0.0, 0.5, 0.35])
# Stolen card details pushed into the fraudster's phone wallet (the one-time code phished
# from the victim): its card-present spend is wallet taps, not a cloned plastic.
WALLET_PROVISIONED = 0.6
MAGSTRIPE_FALLBACK = 0.15  # clones forced through the stripe when the chip fails
CONTACTLESS_LIMIT_EUR = 50.0  # taps above this need the PIN, which a thief lacks
FRAUD_MOBILE = 0.25
_TYPICAL = np.cumsum(CATEGORY_WEIGHTS)
_TYPICAL_ONLINE = np.cumsum(
    CATEGORY_WEIGHTS * CATEGORY_ONLINE / (CATEGORY_WEIGHTS * CATEGORY_ONLINE).sum()
)


@dataclass(frozen=True)
class FraudPlan:
    draft: Draft  # sorted by row, one entry per planned row of the day

    def within(self, start: int, stop: int) -> Draft:
        lo, hi = np.searchsorted(self.draft.row, [start, stop])
        d = self.draft
        return Draft(**{f.name: getattr(d, f.name)[lo:hi] for f in fields(d)})


def first_of_each(values: np.ndarray) -> np.ndarray:
    """Index of the first occurrence of each distinct value, in value order."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    return order[np.r_[True, ordered[1:] != ordered[:-1]]] if len(values) else order


def _pick(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), len(cdf) - 1)


def _attempt_categories(
    pf: Portfolio, eps: Episodes, att: Attempts, customer: np.ndarray, day: date
) -> np.ndarray:
    n = len(att.time)
    sc = att.scenario.astype(np.int64)
    favourite = pf.pop.favourite_categories[customer, (att.draw("place") < 0.5).astype(np.int64)]
    online_mix = ONLINE_SHARE[sc] > 0.5
    typical = np.where(
        online_mix,
        _pick(_TYPICAL_ONLINE, att.draw("category")),
        _pick(_TYPICAL, att.draw("category")),
    )
    own = np.where(att.draw("category") < 0.45, favourite, typical)
    tilt = np.zeros(n, dtype=np.int64)
    for scenario, (cats, cdf) in _TILT.items():
        if scenario == TESTING and in_testing_wave(day):
            cats, cdf = _WAVE_TESTING
        sel = np.flatnonzero(sc == scenario)
        tilt[sel] = cats[_pick(cdf, att.draw("tilt-pick")[sel])]
    return np.where(att.draw("tilt") < TILT_SHARE[sc], tilt, own).astype(np.int64)


def _fraud_city(pf: Portfolio, att: Attempts, home: np.ndarray, day: date) -> np.ndarray:
    """Where the fraudster is: near the victim (a thief, a local proxy) or elsewhere."""
    pop = pf.pop
    sc = att.scenario
    t = tactics(day)
    local = np.select(
        [sc == LOST, sc == TERMINAL, sc == TAKEOVER],
        [0.9, 0.7, 0.45 + 0.45 * t.takeover_local],
        0.45 + 0.5 * t.card_local,
    )
    u = att.draw("city")
    same_country = pop.cities_by_country.pick(pop.home_country_of_city(home), att.draw("region"))
    anywhere = pop.cities.table.draw(att.draw("abroad"))
    return np.where(
        u < local, home, np.where(u < local + (1 - local) * 0.85, same_country, anywhere)
    ).astype(np.int64)


def attempt_rows(clock: DayClock, att: Attempts) -> np.ndarray:
    """The row of the day each attempt takes: by its time, as every payment."""
    return clock.rows_at(att.time - (clock.day.toordinal() - T0) * float(DAY_S))


def render_attempts(
    pf: Portfolio, life: Lifecycle, clock: DayClock, eps: Episodes, att: Attempts
) -> Draft:
    """The day's fraud attempts as payments of their victims.

    Every field but the IP location (one stream over the online attempts) is a function
    of the attempt alone, so rendering a subset renders those attempts as in the day."""
    pop = pf.pop
    day = clock.day
    n = len(att.time)
    d = Draft.empty(n)
    d.row = attempt_rows(clock, att)
    sc = att.scenario.astype(np.int64)
    ep = att.episode
    d.card = eps.slot[ep]
    d.customer = pop.card_customer[d.card]
    # The fraudster holds the plastic that was live when the episode started.
    held = np.minimum(att.time, eps.block[ep] - 1.0)
    plastic = life.plastic(pop, d.card, np.minimum(held, eps.start[ep]))
    d.version, d.issued, d.expiry = plastic.version, plastic.issued, plastic.expiry
    # Another case on the same card may have blocked (and replaced) that plastic first.
    now = life.plastic(pop, d.card, att.time)
    dead = att.after_block | now.blocked | (now.version != plastic.version)
    d.category = _attempt_categories(pf, eps, att, d.customer, day)
    online = (att.draw("channel") < ONLINE_SHARE[sc]) | (CATEGORY_ONLINE[d.category] >= 0.95)
    home = pop.home_city[d.customer].astype(np.int64)
    city = _fraud_city(pf, att, home, day)
    market = np.where(att.draw("place") < 0.7, pop.home_country[d.customer], -1)
    u_merchant = att.draw("merchant").copy()  # a view into the attempts' draws
    # Mostly a new shop for the card; some scenarios reach the victim's regulars.
    regular = np.flatnonzero(att.draw("regular") < AT_REGULAR_SHOP[sc])
    which = (att.draw("regular-which")[regular] * 3).astype(np.int64)
    u_merchant[regular] = regular_draw(pop.seed, d.customer[regular], d.category[regular], which)
    market[regular] = pop.home_country[d.customer[regular]]
    d.merchant = pick_merchant(pop, d.category, city, online, u_merchant, market)
    d.terminal = pick_terminal(pop, d.merchant, online, att.draw("terminal"))
    shift = AMOUNT_SHIFT[sc] + ESCALATION * np.minimum(att.seq, ESCALATION_ATTEMPTS)
    card_lo, card_hi = tactics(day).card_amount
    shift = np.where(sc == CARD, shift + np.log(0.5 * (card_lo + card_hi)) * 0.2, shift)
    d.amount_eur = category_amount_eur(
        d.category, pop.amount_scale[d.customer], att.draw("amount"), shift=0.0
    ) * np.exp(shift)
    d.amount_eur = np.where(sc == TESTING, 0.5 + 2.5 * att.draw("entry"), d.amount_eur)
    u_ch = att.draw("entry")
    clone = np.where(u_ch < MAGSTRIPE_FALLBACK, SWIPE, CHIP)  # a counterfeit cannot tap
    stolen = np.where(d.amount_eur <= CONTACTLESS_LIMIT_EUR, CONTACTLESS, CHIP)
    provisioned = (sc == CARD) & (
        unit(pop.seed, "wallet-provision", eps.key[ep]) < WALLET_PROVISIONED
    )
    present = np.where(sc == LOST, stolen, np.where(provisioned, CONTACTLESS, clone))
    d.channel = np.where(online, ONLINE, present).astype(np.int8)
    d.loc_city = pop.merchant_city[d.merchant].astype(np.int64)
    d.loc_lat, d.loc_lon = pop.merchant_lat[d.merchant], pop.merchant_lon[d.merchant]
    web = np.flatnonzero(online)
    g = rng(pop.seed, "fraud-ip", day, clock.rows)
    ip_city, ip_lat, ip_lon = ip_location(pop, g, city[web], FRAUD_MOBILE, 0.1)
    d.loc_city[web], d.loc_lat[web], d.loc_lon[web] = ip_city, ip_lat, ip_lon
    on_file = online & (
        ((sc == TAKEOVER) & (att.draw("sca") < 0.7)) | ((sc == CARD) & (att.draw("sca") < 0.05))
    )
    d.entry = entry_modes(d.channel, att.draw("wallet"), on_file=on_file)
    tap = d.channel == CONTACTLESS
    d.entry = np.select(
        [(sc == LOST) & tap, provisioned & tap], [E_CONTACTLESS, E_WALLET], d.entry
    ).astype(np.int8)
    eea = COUNTRY_EEA[pop.merchant_country[d.merchant]]
    required = sca_required(online, eea, d.amount_eur, att.draw("sca"))
    # Inside the account a SIM swap passes SCA; elsewhere the challenge mostly stops them.
    passes = np.where(sc == TAKEOVER, 0.5 + 0.4 * tactics(day).takeover_local, 0.7)
    failed = required & (att.draw("sca-pass") >= passes)
    d.sca = np.where(online, required & ~failed, d.channel == CHIP).astype(np.int8)
    d.device = _devices(pf, eps, att, online)
    d.response = _responses(eps, att, d, failed, dead)
    d.scenario = att.scenario.astype(np.int8)
    return d


RING_SHARE = 0.2  # online episodes run from a ring's device, shared by a few victims
RING_SIZE = 3
HIJACKED_DEVICE = 0.35  # takeovers from the victim's own (infected) device


def _devices(pf: Portfolio, eps: Episodes, att: Attempts, online: np.ndarray) -> np.ndarray:
    seed = pf.pop.seed
    key = eps.key[att.episode]
    own = mix64(key.astype(np.uint64), salt_for(seed, "fraud-device"))
    ring = mix64((key // RING_SIZE).astype(np.uint64), salt_for(seed, "ring-device"))
    u = att.draw("device")
    per_episode = unit(seed, "ring", key) < RING_SHARE
    device = np.where(per_episode, ring, own)
    customer = pf.pop.card_customer[eps.slot[att.episode]]
    victims = customer_devices(seed, customer, att.draw("victim-device"))
    hijacked = (att.scenario == TAKEOVER) & (u < HIJACKED_DEVICE)
    return np.where(online, np.where(hijacked, victims, device), 0).astype(np.uint64)


def _responses(
    eps: Episodes, att: Attempts, d: Draft, failed: np.ndarray, dead: np.ndarray
) -> np.ndarray:
    u = att.draw("decline")
    v = att.draw("code")
    sc = att.scenario
    blocked = np.where(
        sc == LOST,
        np.where(
            v < 0.35, R["41"], np.where(v < 0.6, R["43"], np.where(v < 0.8, R["62"], R["05"]))
        ),
        np.where(v < 0.5, R["62"], np.where(v < 0.9, R["05"], R["41"])),
    )
    dead_test = (sc == TESTING) & ~eps.passed[att.episode]
    dead_card = np.where(
        v < 0.4, R["14"], np.where(v < 0.6, R["54"], np.where(v < 0.8, R["51"], R["05"]))
    )
    rules = np.where(v < 0.6, R["59"], R["05"])  # the issuer's risk rules catch some
    pin = (sc == LOST) & (d.channel == CHIP)  # a thief guessing the PIN
    return np.select(
        [dead, dead_test & (u < 0.85), pin & (u < 0.9), failed, u < 0.05],
        [blocked, dead_card, R["55"], R["05"], rules],
        R["00"],
    ).astype(np.int8)


# Friendly fraud: genuine purchases the cardholder disputes later, where it really is
# (digital goods, subscriptions, gambling). Planned like fraud, so that the labels feed
# finds them without building the day.
DISPUTE_RATE = 4e-5  # disputes per covered card and day
_DISPUTED = _categories({"5815": 3, "5816": 3, "4899": 2, "7995": 2, "5999": 1})


def disputes(pf: Portfolio, clock: DayClock) -> Draft:
    """The day's genuine online purchases that will be disputed."""
    pop = pf.pop
    seed = pop.seed
    g = rng(seed, "disputes", clock.day, clock.rows)
    k = g.poisson(DISPUTE_RATE * pf.n_covered_cards)
    pool = pf.disputers[pop.account_opened[pf.disputers] <= clock.day.toordinal()]
    d = Draft.empty(k if len(pool) else 0)
    if not len(d):
        return d
    d.customer = pool[g.integers(0, len(pool), k)]
    d.row = g.integers(0, clock.rows, k)
    d.card = pop.card_start[d.customer]
    cats, cdf = _DISPUTED
    d.category = cats[_pick(cdf, g.random(k))]
    online = np.ones(k, dtype=bool)
    home = pop.home_city[d.customer].astype(np.int64)
    d.merchant = pick_merchant(
        pop, d.category, home, online, g.random(k), pop.home_country[d.customer]
    )
    d.terminal = pop.terminal_start[d.merchant]
    d.amount_eur = category_amount_eur(
        d.category, pop.amount_scale[d.customer], g.standard_normal(k)
    )
    d.channel[:] = ONLINE
    d.loc_city, d.loc_lat, d.loc_lon = ip_location(pop, g, home, 0.35, 0.05)
    d.entry[:] = E_ECOMMERCE
    eea = COUNTRY_EEA[pop.merchant_country[d.merchant]]
    d.sca = sca_required(online, eea, d.amount_eur, g.random(k)).astype(np.int8)
    d.device = customer_devices(seed, d.customer, g.random(k))
    d.scenario[:] = -1
    return d


def version_at(pf: Portfolio, life: Lifecycle, clock: DayClock, d: Draft) -> None:
    """Planned genuine payments use the plastic that is live at their row's time."""
    if len(d):
        t = abs_seconds(clock.day, clock.seconds(d.row, np.full(len(d), 0.5)))
        plastic = life.plastic(pf.pop, d.card, t)
        d.version, d.issued, d.expiry = plastic.version, plastic.issued, plastic.expiry
        d.response = np.where(plastic.blocked, R["62"], d.response).astype(np.int8)


def fraud_attempts(reg: Regime, pf: Portfolio, life: Lifecycle, clock: DayClock) -> Draft:
    eps, att = attempts_on(reg, clock.day)
    return render_attempts(pf, life, clock, eps, att)


def plan_day(reg: Regime, pf: Portfolio, life: Lifecycle, clock: DayClock) -> FraudPlan:
    """The day's planned rows: fraud first, then disputed purchases, then renewals."""
    genuine = [disputes(pf, clock), renewals(pf, clock)]
    for d in genuine:
        version_at(pf, life, clock, d)
    parts = [fraud_attempts(reg, pf, life, clock), *genuine]
    merged = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Draft)}
    # One payment per row: where two plans chose the same row, the first keeps it.
    first = first_of_each(merged["row"])
    return FraudPlan(Draft(**{k: v[first] for k, v in merged.items()}))


def inject(block: Draft, plan: FraudPlan) -> Draft:
    """Overwrite the block's planned rows with their planned payments."""
    start = int(block.row[0]) if len(block) else 0
    planned = plan.within(start, start + len(block))
    if len(planned):
        block.overwrite(planned.row - start, planned)
    return block
