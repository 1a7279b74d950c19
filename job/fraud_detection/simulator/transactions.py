"""Legitimate payments for one block of rows, as index arrays (a Draft).

Everything is vectorised: one random draw per column per block, entities picked by
index from the population's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from fraud_detection.schema import CARD_TYPES, RESPONSE_CODES
from fraud_detection.simulator.cards import DayEvents, Lifecycle, Plastic, abs_seconds
from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.population import Groups, Population
from fraud_detection.simulator.portfolio import Portfolio
from fraud_detection.simulator.reference import (
    CATEGORIES,
    CATEGORY_MEDIAN_EUR,
    CATEGORY_ONLINE,
    CATEGORY_SIGMA,
    CHIP,
    CONTACTLESS,
    COUNTRY_EEA,
    E_CHIP,
    E_CONTACTLESS,
    E_ECOMMERCE,
    E_MAGSTRIPE,
    E_ON_FILE,
    E_WALLET,
    N_CATEGORIES,
    ONLINE,
    SWIPE,
    category_hour_cdf,
)
from fraud_detection.simulator.sampling import GuideTable
from fraud_detection.simulator.seeding import mix64, rng, salt_for
from fraud_detection.simulator.timeline import day_shape

if TYPE_CHECKING:
    from fraud_detection.simulator.travel import Trips

FAVOURITE_SHARE = 0.6  # how often a customer shops in one of their favourite categories
LEGIT_ON_FILE = 0.2  # online payments with a card stored at the merchant
WALLET_SHARE = 0.35  # taps made with a phone wallet rather than the card
SCA_EXEMPT_EUR = 30.0  # low-value online payments are usually exempt from SCA
# Share of purchases refunded, by category: clothes and electronics go back most.
REFUND_SHARE = np.array([{"5651": 0.05, "5732": 0.03, "5311": 0.03, "5999": 0.02, "4511": 0.02,
                          "7011": 0.02}.get(c.mcc, 0.004) for c in CATEGORIES])  # fmt: skip
# Gambling and crypto are refused on many debit and prepaid cards.
RESTRICTED_FOR_DEBIT = np.array([c.mcc in ("7995", "6051") for c in CATEGORIES])  # by category
MAX_SHOPPING_KM = 120.0  # nobody drives further than this to shop in person
DOMESTIC_ONLINE = 0.85  # online purchases from a merchant of the buyer's own country
LEGIT_MOBILE = 0.35  # online buyers on a mobile carrier (located at its gateway city)
LEGIT_VPN = 0.05  # online buyers behind a VPN (located anywhere)


# Each Draft column declares its dtype, so `Draft.empty` needs no list of its own.
_INT = {"dtype": np.int64}
_FLOAT = {"dtype": np.float64}
_SMALL = {"dtype": np.int8}
_DEVICE = {"dtype": np.uint64}


@dataclass
class Draft:
    """One block's payments as arrays of indices and numbers, before formatting."""

    row: np.ndarray = field(metadata=_INT)  # global row index in the day
    seconds: np.ndarray = field(metadata=_FLOAT)  # second of the day
    customer: np.ndarray = field(metadata=_INT)
    card: np.ndarray = field(metadata=_INT)  # the card slot (cards.py)
    version: np.ndarray = field(metadata=_INT)  # the slot's plastic at the payment's time
    issued: np.ndarray = field(metadata=_INT)  # the plastic's issue day (ordinal)
    expiry: np.ndarray = field(metadata=_INT)  # first day of its expiry month (ordinal)
    category: np.ndarray = field(metadata=_INT)
    merchant: np.ndarray = field(metadata=_INT)
    terminal: np.ndarray = field(metadata=_INT)
    channel: np.ndarray = field(metadata=_SMALL)
    amount_eur: np.ndarray = field(metadata=_FLOAT)
    loc_city: np.ndarray = field(metadata=_INT)  # where the payment happened (index into cities)
    loc_lat: np.ndarray = field(metadata=_FLOAT)
    loc_lon: np.ndarray = field(metadata=_FLOAT)
    # -1 for legitimate, else index into FRAUD_SCENARIOS
    scenario: np.ndarray = field(metadata=_SMALL)
    entry: np.ndarray = field(metadata=_SMALL)  # index into ENTRY_MODES
    sca: np.ndarray = field(metadata=_SMALL)  # 1 when strong customer authentication was done
    response: np.ndarray = field(metadata=_SMALL)  # index into RESPONSE_CODES; 0 approves
    refund: np.ndarray = field(metadata=_SMALL)  # 1 for a refund to the card
    device: np.ndarray = field(metadata=_DEVICE)  # device token of online payments (0: none)

    @classmethod
    def empty(cls, n: int) -> Draft:
        """n zeroed rows, each column in its declared dtype."""
        return cls(**{f.name: np.zeros(n, f.metadata["dtype"]) for f in fields(cls)})

    def __len__(self) -> int:
        return len(self.row)

    def take(self, idx: np.ndarray) -> Draft:
        return Draft(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def overwrite(self, positions: np.ndarray, other: Draft) -> None:
        """Replace the rows at `positions` with `other`'s rows (same length)."""
        for f in fields(self):
            if f.name in ("row", "seconds"):
                continue
            getattr(self, f.name)[positions] = getattr(other, f.name)


def pick_merchant(
    pop: Population,
    category: np.ndarray,
    city: np.ndarray,
    online: np.ndarray,
    u: np.ndarray,
    online_country: np.ndarray | None = None,
) -> np.ndarray:
    """A merchant of the category: in (or nearest to) the city for card-present; online,
    one registered in `online_country` (-1 or None: anywhere)."""
    category = category.astype(np.int64, copy=False)
    merchant = np.full(len(category), -1, dtype=np.int64)
    local = np.flatnonzero(~online)
    if len(local):
        # Small towns lack some shops: people go to the nearest town that has one.
        near = pop.nearest_city_with[city[local], category[local]]
        key = np.maximum(near, 0) * N_CATEGORIES + category[local]
        merchant[local] = np.where(
            near >= 0, pop.merchants_by_city_category.pick(key, u[local]), -1
        )
    if online_country is not None:
        domestic = np.flatnonzero(online & (online_country >= 0))
        if len(domestic):
            key = online_country[domestic] * N_CATEGORIES + category[domestic]
            merchant[domestic] = pop.merchants_by_country_category.pick(key, u[domestic])
    rest = np.flatnonzero(merchant < 0)
    if len(rest):
        merchant[rest] = pop.merchants_by_category.pick(category[rest], u[rest])
    return merchant


def ip_location(
    pop: Population, g: np.random.Generator, city: np.ndarray, mobile: float, vpn: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where IP geolocation puts an online buyer who is in `city`: (city, lat, lon).

    Fixed lines resolve to the right city, give or take a few km; mobile carriers
    route through a gateway in one of the country's big cities; VPNs exit anywhere.
    """
    n = len(city)
    u, u_gateway, u_exit = g.random(n), g.random(n), g.random(n)  # every row: the stream's order
    # Gateways and exits looked up only for the rows that use them.
    mobile_rows = np.flatnonzero(u < mobile)
    vpn_rows = np.flatnonzero((u >= 1.0 - vpn) & (u >= mobile))
    resolved = city.astype(np.int64)
    resolved[mobile_rows] = pop.cities_by_country.pick(
        pop.cities.country[city[mobile_rows]].astype(np.int64), u_gateway[mobile_rows]
    )
    resolved[vpn_rows] = pop.cities.table.draw(u_exit[vpn_rows])
    jitter = 0.06 * g.standard_normal((2, n))  # = g.normal(0.0, 0.06, (2, n)), faster
    lat = pop.cities.lat[resolved] + jitter[0]
    lon = pop.cities.lon[resolved] + 1.5 * jitter[1]
    return resolved, lat, lon


def pick_terminal(
    pop: Population, merchant: np.ndarray, online: np.ndarray, u: np.ndarray
) -> np.ndarray:
    # Online payments go through the merchant's first (virtual) terminal.
    offset = np.where(online, 0, (u * pop.terminal_count[merchant]).astype(np.int64))
    return pop.terminal_start[merchant] + offset


def card_present_channel(amount_eur: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Tap for small tickets, chip for large ones, a little magstripe left."""
    small = amount_eur < 50.0
    return np.where(
        small,
        np.where(u < 0.78, CONTACTLESS, np.where(u < 0.985, CHIP, SWIPE)),
        np.where(u < 0.05, CONTACTLESS, np.where(u < 0.97, CHIP, SWIPE)),
    ).astype(np.int8)


def category_amount_eur(
    category: np.ndarray, scale: np.ndarray, normal: np.ndarray, shift: float = 0.0
) -> np.ndarray:
    """Heavy-tailed (log-normal) tickets around the category's median (× e^shift)."""
    return CATEGORY_MEDIAN_EUR[category] * scale * np.exp(CATEGORY_SIGMA[category] * normal + shift)


PRIMARY_CARD = 0.8  # most payments go on the customer's main card


def pick_card(pop: Population, customer: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One of the customer's cards, the first (their main one) most often."""
    slot = pop.card_start[customer]
    # The others only where the draw passes the main card's share (a fifth of the rows).
    other = np.flatnonzero(u >= PRIMARY_CARD)
    count = pop.card_count[customer[other]]
    rest = (u[other] - PRIMARY_CARD) / (1.0 - PRIMARY_CARD)
    slot[other] += np.minimum((rest * count).astype(np.int64), count - 1)
    return slot


class Streams:
    """One keyed random stream per attribute of a block: a column's model can change
    without reshuffling any other column."""

    def __init__(self, seed: int, *keys: int | str | date) -> None:
        self.seed, self.keys = seed, keys

    def __call__(self, attribute: str) -> np.random.Generator:
        return rng(self.seed, "tx", attribute, *self.keys)


def legit_block(
    pf: Portfolio, payers: Groups, life: Lifecycle, clock: DayClock, trips: Trips, block: int,
    start: int, stop: int,
) -> Draft:  # fmt: skip
    """A block of genuine payments, step by step, each step with its own streams."""
    pop = pf.pop
    day: date = clock.day
    shape = day_shape(day)
    s = Streams(pop.seed, day, clock.rows, block)
    n = stop - start
    row = np.arange(start, stop, dtype=np.int64)
    seconds = clock.seconds(row, s("time").random(n))
    # Integer floor division: the same hours as a float one, several times cheaper.
    hour = np.minimum(np.floor(seconds).astype(np.int64) // 3600, 23)
    country = clock.countries(hour, s("country").random(n))
    customer = who_pays(pop, payers, trips, s, country, seconds)
    leader = sessions(s, seconds)
    follows = np.flatnonzero(leader >= 0)
    customer[follows] = customer[leader[follows]]
    slot = pick_card(pop, customer, s("card").random(n))
    same_card = follows[s("session-card").random(len(follows)) < SESSION_SAME_CARD]
    slot[same_card] = slot[leader[same_card]]
    t = abs_seconds(day, seconds)
    cards = life.on_day(pop, day.toordinal())  # the day's card events, settled once
    plastic, slot, blocked = plastics(pop, cards, customer, slot, t)
    # Someone whose only card is blocked mostly pays some other way (not in this feed):
    # another customer pays instead; a few try the blocked card anyway.
    gone = np.flatnonzero(blocked & (s("blocked").random(n) >= TRY_BLOCKED))
    if len(gone):
        customer[gone] = payers.pick(country[gone], s("customer-3").random(len(gone)))
        slot[gone] = pick_card(pop, customer[gone], s("card-3").random(len(gone)))
        again, slot[gone], blocked[gone] = plastics(pop, cards, customer[gone], slot[gone], t[gone])
        for f in fields(Plastic):
            getattr(plastic, f.name)[gone] = getattr(again, f.name)

    category = categories(pop, clock, s, customer, hour, country, shape.category_multiplier)
    online = s("online").random(n) < np.minimum(
        CATEGORY_ONLINE[category] * pop.online_affinity[customer], 1.0
    )
    # At home, or at the destination of a trip; what no shop nearby sells is bought online.
    away = trips.away(customer, seconds)
    city = np.where(away >= 0, away, pop.home_city[customer]).astype(np.int64, copy=False)
    online |= pop.nearest_km[city, category] > MAX_SHOPPING_KM
    merchant = loyal_merchants(pop, s, customer, category, city, online)
    terminal = pick_terminal(pop, merchant, online, s("terminal").random(n))
    amount_eur = shape.amount_factor * category_amount_eur(
        category, pop.amount_scale[customer], s("amount").standard_normal(n)
    )
    channel = np.where(
        online, ONLINE, card_present_channel(amount_eur, s("channel").random(n))
    ).astype(np.int8)
    loc_city = pop.merchant_city[merchant].astype(np.int64)
    loc_lat, loc_lon = pop.merchant_lat[merchant], pop.merchant_lon[merchant]
    web = np.flatnonzero(online)
    ip_city, ip_lat, ip_lon = ip_location(pop, s("ip"), city[web], LEGIT_MOBILE, LEGIT_VPN)
    loc_city[web], loc_lat[web], loc_lon[web] = ip_city, ip_lat, ip_lon

    entry = entry_modes(
        channel, s("wallet").random(n), on_file=s("on-file").random(n) < LEGIT_ON_FILE
    )
    eea = COUNTRY_EEA[pop.merchant_country[merchant]]
    required = sca_required(online, eea, amount_eur, s("sca").random(n))
    sca = np.where(online, required, channel == CHIP).astype(np.int8)
    device = np.zeros(n, dtype=np.uint64)
    device[web] = legit_devices(pf, s, customer[web], city[web], row[web], clock)
    d = Draft(
        row=row,
        seconds=seconds,
        customer=customer,
        card=slot,
        version=plastic.version,
        issued=plastic.issued,
        expiry=plastic.expiry,
        category=category,
        merchant=merchant,
        terminal=terminal,
        channel=channel,
        amount_eur=amount_eur,
        loc_city=loc_city,
        loc_lat=loc_lat,
        loc_lon=loc_lon,
        scenario=np.full(n, -1, dtype=np.int8),
        entry=entry,
        sca=sca,
        response=np.zeros(n, dtype=np.int8),
        refund=(s("refund").random(n) < REFUND_SHARE[category]).astype(np.int8),
        device=device,
    )
    d.response = declines(pop, d, s, shape.decline_rate, required, blocked)
    retries(d, s)
    return d


TRY_BLOCKED = 0.1  # cardholders who try a card they know is blocked
SESSION_SHARE = 0.6  # payments that continue a shopping trip or an evening out
SESSION_MEAN_S = 1_500.0
SESSION_SAME_CARD = 1.0
SESSION_TRIES = 4
LOYAL_SHARE = 0.88  # payments at one of the customer's regular shops of the category
REGULAR_WEIGHTS = np.cumsum([0.7, 0.2, 0.1])  # first, second and third favourite shop
LEGIT_FRESH_DEVICE = 0.15  # a new browser, cleared cookies, private browsing, a new phone
HOUSEHOLD_DEVICE = 0.35  # household members' online payments from the shared computer
PUBLIC_DEVICE = 0.01  # a library, office or shop computer used by many people
PUBLIC_DEVICES_PER_CITY = 8


def who_pays(
    pop: Population, payers: Groups, trips: Trips, s: Streams, country: np.ndarray,
    seconds: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """A customer of the row's country, by how much each pays today."""
    customer = payers.pick(country, s("customer").random(len(country)))
    # Travellers on their way pay nothing in person: someone else at home pays instead.
    moving = np.flatnonzero(trips.in_transit(customer, seconds))
    customer[moving] = payers.pick(country[moving], s("customer-2").random(len(moving)))
    return customer


def sessions(s: Streams, seconds: np.ndarray) -> np.ndarray:
    """For each row, the earlier row whose payer it continues (-1: a new session).

    Sessions are pairs (a coffee after the groceries, the ride home): a row either opens
    one or follows one, and a session takes one follower; a follower whose session is
    taken joins the next open one after it.
    """
    n = len(seconds)
    follow = s("session").random(n) < SESSION_SHARE
    lag = SESSION_MEAN_S * s("session-lag").standard_exponential(n)  # = exponential(mean, n)
    roots = np.flatnonzero(~follow)
    leader = np.full(n, -1, dtype=np.int64)
    if not len(roots):
        return leader
    pending = np.flatnonzero(follow)
    at = GuideTable(seconds[roots], side="left").search(seconds[pending] - lag[pending])
    claimed = np.zeros(len(roots), dtype=bool)
    # By (session, row): the pairs are unique, so any sort gives this order, and moving
    # every row on to the next session (below) keeps it. Packed in one word each and
    # sorted as plain integers: cheaper than an argsort and two gathers.
    bits = n.bit_length()
    pair = (at << bits) | pending
    pair.sort()
    pending, at = pair & ((1 << bits) - 1), pair >> bits
    # A last session after every row: "no session left" and "the session opens after
    # the row" become one test.
    opens = np.append(roots, n)
    for _ in range(SESSION_TRIES):
        ok = opens[at] < pending
        pending, at = pending[ok], at[ok]
        if not len(pending):
            break
        first = np.empty(len(at), dtype=bool)  # the first row of each session...
        first[0] = True
        np.not_equal(at[1:], at[:-1], out=first[1:])
        first &= ~claimed[at]  # ...that is still open
        taken = at[first]
        leader[pending[first]] = roots[taken]
        claimed[taken] = True
        rest = ~first
        pending, at = pending[rest], at[rest] + 1
    return leader


def plastics(
    pop: Population, life: DayEvents, customer: np.ndarray, slot: np.ndarray, t: np.ndarray
) -> tuple[Plastic, np.ndarray, np.ndarray]:
    """The plastic of each payment; a blocked card is swapped for another of the customer's."""
    slot = life.issued_slot(pop, slot, t)
    plastic = life.plastic(pop, slot, t)
    swap = np.flatnonzero(plastic.blocked & (pop.card_count[customer] > 1))
    if len(swap):
        first, count = pop.card_start[customer[swap]], pop.card_count[customer[swap]]
        slot = slot.copy()
        slot[swap] = life.issued_slot(pop, first + (slot[swap] - first + 1) % count, t[swap])
        other = life.plastic(pop, slot[swap], t[swap])
        for f in fields(Plastic):
            getattr(plastic, f.name)[swap] = getattr(other, f.name)
    return plastic, slot, plastic.blocked


def categories(
    pop: Population, clock: DayClock, s: Streams, customer: np.ndarray, hour: np.ndarray,
    country: np.ndarray, multiplier: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """A favourite category, or the usual mix of the local hour and the day."""
    n = len(customer)
    local_hour = clock.local_hour(country, hour)
    cdf = category_hour_cdf(multiplier)
    flat = (cdf + np.arange(24)[:, None]).ravel()
    u = s("category").random((3, n))
    by_hour = GuideTable(flat).search(local_hour + u[0]) - local_hour * N_CATEGORIES
    by_hour = np.clip(by_hour, 0, N_CATEGORIES - 1)
    # Row-major (customers, 2): customer c's k-th favourite is element 2c + k.
    favourite = pop.favourite_categories.ravel()[2 * customer + (u[1] < 0.5)]
    return np.where(u[2] < FAVOURITE_SHARE, favourite, by_hour).astype(np.int64, copy=False)


def loyal_merchants(
    pop: Population, s: Streams, customer: np.ndarray, category: np.ndarray, city: np.ndarray,
    online: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Mostly one of the customer's regular shops of the category, sometimes a new one."""
    n = len(customer)
    u = s("merchant").random((3, n))
    home_country = pop.home_country[customer]
    market = np.where(u[0] < DOMESTIC_ONLINE, home_country, -1)
    loyal = np.flatnonzero(u[1] < LOYAL_SHARE)
    # The favourite: how many cumulative weights the draw passes (searchsorted's answer;
    # three comparisons are cheaper than a binary search per row).
    x = u[2][loyal] * REGULAR_WEIGHTS[-1]
    which = np.zeros(len(loyal), dtype=np.int64)
    for weight in REGULAR_WEIGHTS:
        which += x >= weight
    u_merchant = s("new-merchant").random(n)
    u_merchant[loyal] = regular_draw(pop.seed, customer[loyal], category[loyal], which)
    market[loyal] = home_country[loyal]
    return pick_merchant(pop, category, city, online, u_merchant, online_country=market)


def sca_required(
    online: np.ndarray, eea: np.ndarray, amount_eur: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """PSD2's rule online: inside the EEA above 30 euros unless an exemption applies
    (transaction risk analysis), and below it when the cumulative limit is reached."""
    above = amount_eur > SCA_EXEMPT_EUR
    p = np.where(above, 0.85, 0.15) * np.where(eea, 1.0, 0.3)
    return online & (u < p)


def legit_devices(
    pf: Portfolio, s: Streams, customer: np.ndarray, city: np.ndarray, row: np.ndarray,
    clock: DayClock,
) -> np.ndarray:  # fmt: skip
    """Own phones and computers, the household's shared one, public ones, fresh ones."""
    pop = pf.pop
    n = len(customer)
    u = s("device").random((2, n))
    # The first that applies: fresh, public, the household's, else one of their own.
    # Each token is worked out only on its own rows.
    fresh_below = LEGIT_FRESH_DEVICE
    public_below = LEGIT_FRESH_DEVICE + PUBLIC_DEVICE
    shared_below = LEGIT_FRESH_DEVICE + PUBLIC_DEVICE + HOUSEHOLD_DEVICE
    fresh = np.flatnonzero(u[1] < fresh_below)
    public = np.flatnonzero((u[1] >= fresh_below) & (u[1] < public_below))
    shared = np.flatnonzero(
        pf.in_household[customer] & (u[1] >= public_below) & (u[1] < shared_below)
    )
    device = customer_devices(pop.seed, customer, u[0])
    device[fresh] = mix64(
        row[fresh].astype(np.uint64), salt_for(pop.seed, "new-device", clock.day, clock.rows)
    )
    device[public] = mix64(
        city[public].astype(np.uint64) * np.uint64(PUBLIC_DEVICES_PER_CITY)
        + (u[0][public] * PUBLIC_DEVICES_PER_CITY).astype(np.uint64),
        salt_for(pop.seed, "public-device"),
    )
    head = pop.household_head[customer[shared]]
    device[shared] = mix64(head.astype(np.uint64), salt_for(pop.seed, "household-device"))
    return device


# ISO 8583 codes, by their index in schema.RESPONSE_CODES.
R = {code: i for i, code in enumerate(RESPONSE_CODES)}


def declines(
    pop: Population, d: Draft, s: Streams, rate: float, sca: np.ndarray, blocked: np.ndarray
) -> np.ndarray:
    """Why a genuine payment is refused: funds, limits, PINs, risk rules, blocked cards."""
    n = len(d)
    u = s("decline").random((2, n))
    lean = rate / 0.012  # the day's pressure on balances (the days before payday)
    card_type = pop.card_type[d.card]
    debit_like = card_type != CARD_TYPES.index("credit")
    big = np.sqrt(np.minimum(d.amount_eur / CATEGORY_MEDIAN_EUR[d.category], 9.0))
    limit = pop.credit_limit[d.card]
    over = (~debit_like) & (d.amount_eur > 0.25 * np.maximum(limit, 1))
    risky = (d.channel == ONLINE) & (d.amount_eur > 150.0)
    restricted = RESTRICTED_FOR_DEBIT[d.category] & debit_like
    p = [
        np.where(debit_like, 0.007, 0.0015) * lean * big,  # 51
        np.where(over, 0.03, 0.0005),  # 61
        np.where(d.channel == CHIP, 0.01, 0.0),  # 55
        # Do not honour: the issuer's catch-all, and failed SCA challenges.
        np.where(d.channel == ONLINE, 0.006, 0.003) + np.where(sca.astype(bool), 0.03, 0.0),
        np.where(risky, 0.03, np.where(d.channel == ONLINE, 0.004, 0.0005)),  # 59
        np.where(restricted, 0.04, 0.0),  # 57
        np.full(n, 0.0005),  # 91
        # A merchant charging a stored card whose expiry date has since moved on.
        np.where(d.entry == E_ON_FILE, EXPIRED_ON_FILE, 0.0),  # 54
        # A card number mistyped at checkout (wallets and stored cards are not typed).
        np.where(d.entry == E_ECOMMERCE, MISTYPED_ONLINE, 0.0),  # 14
    ]
    # How many of the running totals of p are <= u: the reason whose share u falls in.
    # A running sum in place, with no (reasons, rows) array: the same additions in the
    # same order as a cumsum, so the same sums.
    cum = np.zeros(n)
    for share in p:
        cum += share
    # The shares are >= 0, so a draw past the last total passes them all: approved
    # (which == len(p)). Only the few others are counted step by step, with the very
    # same additions.
    which = np.full(n, len(p), dtype=np.int8)
    refused = np.flatnonzero(u[0] < cum)
    cum, draw = np.zeros(len(refused)), u[0][refused]
    count = np.zeros(len(refused), dtype=np.int8)
    for share in p:
        cum += share[refused]
        count += draw >= cum
    which[refused] = count
    response = np.array(
        [R["51"], R["61"], R["55"], R["05"], R["59"], R["57"], R["91"], R["54"], R["14"], R["00"]],
        dtype=np.int8,
    )[which]
    # A cardholder who tries a card that was blocked: restricted, lost or stolen.
    tried = np.flatnonzero(blocked)
    v = u[1][tried]
    response[tried] = np.where(v < 0.45, R["62"], np.where(v < 0.85, R["41"], R["43"]))
    return response


# Genuine refusals that card testing also causes, so neither code is fraud by itself.
EXPIRED_ON_FILE = 0.004
MISTYPED_ONLINE = 0.001


# Which refusals the cardholder tries again, after about how long (seconds), and how
# often the retry is refused again for the same reason (the balance has not moved, the
# PIN is still wrong, the issuer still says no).
RETRY = {"51": (0.5, 300.0, 0.35), "55": (0.8, 60.0, 0.25), "91": (0.8, 90.0, 0.2),
         "05": (0.3, 120.0, 0.4), "59": (0.6, 600.0, 0.3), "61": (0.4, 300.0, 0.4)}  # fmt: skip


def retries(d: Draft, s: Streams) -> None:
    """A declined payment is often tried again minutes later: mostly approved, some
    refused again for the same reason."""
    n = len(d)
    share = np.zeros(len(RESPONSE_CODES))
    lag = np.ones(len(RESPONSE_CODES))
    again = np.zeros(len(RESPONSE_CODES))
    for code, (p, mean_s, refused) in RETRY.items():
        share[R[code]], lag[R[code]], again[R[code]] = p, mean_s, refused
    u = s("retry").random((4, n))
    src = np.flatnonzero((d.response > 0) & (u[0] < share[d.response]))
    if not len(src):
        return
    after = d.seconds[src] + 20.0 + u[1][src] * 2.0 * lag[d.response[src]]
    dst = np.searchsorted(d.seconds, after, side="left")
    ok = (dst < n) & (dst > src)
    src, dst = src[ok], dst[ok]
    ok = d.response[dst] == 0  # never overwrite another refusal
    src, dst = src[ok], dst[ok]
    first = np.unique(dst, return_index=True)[1]
    src, dst = src[first], dst[first]
    is_source = np.zeros(n, dtype=bool)  # np.isin(dst, src) by a mark per row: cheaper
    is_source[src] = True
    keep = ~is_source[dst]
    src, dst = src[keep], dst[keep]
    d.overwrite(dst, d.take(src))
    smaller = d.response[src] == R["51"]  # a smaller basket the second time
    d.amount_eur[dst] = np.where(
        smaller, d.amount_eur[dst] * (0.4 + 0.5 * u[2][dst]), d.amount_eur[dst]
    )
    d.response[dst] = np.where(u[3][dst] < again[d.response[src]], d.response[src], R["00"])


def regular_draw(
    seed: int, customer: np.ndarray, category: np.ndarray, which: np.ndarray | int = 0
) -> np.ndarray:
    """A uniform in [0, 1) fixed for each (customer, category, k): their k-th usual shop."""
    key = (customer.astype(np.uint64) * np.uint64(N_CATEGORIES) + category.astype(np.uint64)) * (
        np.uint64(4)
    ) + np.asarray(which).astype(np.uint64)
    return (mix64(key, salt_for(seed, "regular-merchant")) >> np.uint64(11)) * (1.0 / (1 << 53))


def entry_modes(channel: np.ndarray, u: np.ndarray, on_file: np.ndarray) -> np.ndarray:
    """The entry mode behind each channel: wallets among taps, stored cards among online."""
    entry = ENTRY_OF_CHANNEL[channel]
    entry[(channel == CONTACTLESS) & (u < WALLET_SHARE)] = E_WALLET
    entry[(channel == ONLINE) & on_file] = E_ON_FILE
    return entry


# Each channel's usual entry mode (indexed by channel), before wallets and stored cards.
ENTRY_OF_CHANNEL = np.zeros(4, dtype=np.int8)
ENTRY_OF_CHANNEL[[CHIP, CONTACTLESS, ONLINE, SWIPE]] = (
    E_CHIP,
    E_CONTACTLESS,
    E_ECOMMERCE,
    E_MAGSTRIPE,
)


def customer_devices(seed: int, customer: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One of the customer's 1–3 phones and computers, as a stable token."""
    salt = salt_for(seed, "device")
    count = 1 + (mix64(customer.astype(np.uint64), salt) % np.uint64(3)).astype(np.int64)
    which = (u * count).astype(np.uint64)
    return mix64(customer.astype(np.uint64) * np.uint64(4) + which, salt)
