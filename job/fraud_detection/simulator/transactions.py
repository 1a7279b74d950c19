"""Legitimate payments for one block of rows, as index arrays (a Draft).

Everything is vectorised: one random draw per column per block, entities picked by
index from the population's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.population import Population
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
from fraud_detection.simulator.seeding import mix64, rng, salt_for
from fraud_detection.simulator.timeline import day_shape

if TYPE_CHECKING:
    from fraud_detection.simulator.travel import Trips

FAVOURITE_SHARE = 0.35  # how often a customer shops in one of their favourite categories
REGULAR_ONLINE = 0.6  # online purchases from the customer's usual merchant of the category
LEGIT_ON_FILE = 0.2  # online payments with a card stored at the merchant
LEGIT_NEW_DEVICE = 0.18  # online payments from a new browser, cleared cookies, a new phone
WALLET_SHARE = 0.35  # taps made with a phone wallet rather than the card
SCA_EXEMPT_EUR = 30.0  # low-value online payments are usually exempt from SCA
# Share of purchases refunded, by category: clothes and electronics go back most.
REFUND_SHARE = np.array([{"5651": 0.05, "5732": 0.03, "5311": 0.03, "5999": 0.02, "4511": 0.02,
                          "7011": 0.02}.get(c.mcc, 0.004) for c in CATEGORIES])  # fmt: skip
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
    card: np.ndarray = field(metadata=_INT)
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
    declined: np.ndarray = field(metadata=_SMALL)  # 1 when the authorisation was declined
    refund: np.ndarray = field(metadata=_SMALL)  # 1 for a refund to the card
    device: np.ndarray = field(metadata=_DEVICE)  # device token of online payments (0: none)

    @classmethod
    def empty(cls, n: int) -> Draft:
        """n zeroed rows, each column in its declared dtype."""
        return cls(**{f.name: np.zeros(n, f.metadata["dtype"]) for f in fields(cls)})

    def __len__(self) -> int:
        return len(self.row)

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
    category = category.astype(np.int64)
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
    u = g.random(n)
    gateway = pop.cities_by_country.pick(pop.cities.country[city].astype(np.int64), g.random(n))
    exit_node = pop.cities.table.draw(g.random(n))
    resolved = np.where(u < mobile, gateway, np.where(u >= 1.0 - vpn, exit_node, city))
    jitter = g.normal(0.0, 0.06, (2, n))
    lat = pop.cities.lat[resolved] + jitter[0]
    lon = pop.cities.lon[resolved] + 1.5 * jitter[1]
    return resolved.astype(np.int64), lat, lon


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


def pick_card(pop: Population, customer: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One of the customer's cards."""
    return pop.card_start[customer] + (u * pop.card_count[customer]).astype(np.int64)


def legit_block(
    pop: Population, clock: DayClock, trips: Trips, seed: int, block: int, start: int, stop: int
) -> Draft:
    day: date = clock.day
    shape = day_shape(day)
    g = rng(seed, "tx", day, clock.rows, block)
    n = stop - start
    row = np.arange(start, stop, dtype=np.int64)
    seconds = clock.seconds(row, g.random(n))
    hour = np.minimum((seconds // 3600).astype(np.int64), 23)

    # Who pays: a country by its share of this UTC hour (its local clock), then a
    # customer of that country by activity: a few pay often, most rarely.
    country = clock.countries(hour, g.random(n))
    customer = pop.customers_by_country.pick(country, g.random(n))
    # Travellers on their way pay nothing in person: someone else at home pays instead.
    moving = np.flatnonzero(trips.in_transit(customer, seconds))
    customer[moving] = pop.customers_by_country.pick(country[moving], g.random(len(moving)))
    card = pick_card(pop, customer, g.random(n))

    # What for: a favourite category, or the usual mix of the local hour and the day.
    local_hour = clock.local_hour(country, hour)
    cdf = category_hour_cdf(shape.category_multiplier)
    flat = (cdf + np.arange(24)[:, None]).ravel()
    by_hour = (
        np.searchsorted(flat, local_hour + g.random(n), side="right") - local_hour * N_CATEGORIES
    )
    by_hour = np.clip(by_hour, 0, N_CATEGORIES - 1)
    favourite = pop.favourite_categories[customer, (g.random(n) < 0.5).astype(np.int64)]
    category = np.where(g.random(n) < FAVOURITE_SHARE, favourite, by_hour).astype(np.int64)

    online_p = np.minimum(CATEGORY_ONLINE[category] * pop.online_affinity[customer], 1.0)
    online = g.random(n) < online_p

    # Where: at home, or at the destination of a trip. What no shop nearby sells is
    # bought online.
    away = trips.away(customer, seconds)
    city = np.where(away >= 0, away, pop.home_city[customer]).astype(np.int64)
    online |= pop.nearest_km[city, category] > MAX_SHOPPING_KM

    # Online shopping is mostly domestic (the home market), some cross-border.
    home_country = pop.home_country[customer]
    market = np.where(g.random(n) < DOMESTIC_ONLINE, home_country, -1)
    # Online, people mostly go back to the shops they know: a fixed draw per
    # (customer, category) picks the same merchant every time.
    u_merchant = g.random(n)
    regular = np.flatnonzero(online & (g.random(n) < REGULAR_ONLINE))
    u_merchant[regular] = regular_draw(pop.seed, customer[regular], category[regular])
    market[regular] = home_country[regular]
    merchant = pick_merchant(pop, category, city, online, u_merchant, online_country=market)
    terminal = pick_terminal(pop, merchant, online, g.random(n))
    amount_eur = shape.amount_factor * category_amount_eur(
        category, pop.amount_scale[customer], g.standard_normal(n)
    )
    channel = np.where(online, ONLINE, card_present_channel(amount_eur, g.random(n))).astype(
        np.int8
    )

    # Card-present at the terminal; online where IP geolocation puts the buyer.
    loc_lat = pop.merchant_lat[merchant]
    loc_lon = pop.merchant_lon[merchant]
    loc_city = pop.merchant_city[merchant].astype(np.int64)
    web = np.flatnonzero(online)
    ip_city, ip_lat, ip_lon = ip_location(pop, g, city[web], LEGIT_MOBILE, LEGIT_VPN)
    loc_city[web], loc_lat[web], loc_lon[web] = ip_city, ip_lat, ip_lon

    # Authentication, entry mode, device and declines: the fields an authorisation log has.
    entry = entry_modes(channel, g.random(n), on_file=g.random(n) < LEGIT_ON_FILE)
    eea = COUNTRY_EEA[pop.merchant_country[merchant]]
    sca_p = np.where(amount_eur > SCA_EXEMPT_EUR, 0.85, 0.2) * np.where(eea, 1.0, 0.35)
    sca = np.where(online, (g.random(n) < sca_p) & (entry != E_ON_FILE), channel == CHIP).astype(
        np.int8
    )
    device = np.zeros(n, dtype=np.uint64)
    own = customer_devices(pop.seed, customer[web], g.random(len(web)))
    fresh = mix64(row[web].astype(np.uint64), salt_for(seed, "new-device", day, clock.rows))
    device[web] = np.where(g.random(len(web)) < LEGIT_NEW_DEVICE, fresh, own)
    return Draft(
        row=row,
        seconds=seconds,
        customer=customer,
        card=card,
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
        declined=(g.random(n) < shape.decline_rate).astype(np.int8),
        refund=(g.random(n) < REFUND_SHARE[category]).astype(np.int8),
        device=device,
    )


def regular_draw(seed: int, customer: np.ndarray, category: np.ndarray) -> np.ndarray:
    """A uniform in [0, 1) fixed for each (customer, category): their usual merchant."""
    key = customer.astype(np.uint64) * np.uint64(N_CATEGORIES) + category.astype(np.uint64)
    return (mix64(key, salt_for(seed, "regular-merchant")) >> np.uint64(11)) * (1.0 / (1 << 53))


def entry_modes(channel: np.ndarray, u: np.ndarray, on_file: np.ndarray) -> np.ndarray:
    """The entry mode behind each channel: wallets among taps, stored cards among online."""
    return np.select(
        [channel == CHIP, channel == CONTACTLESS, channel == SWIPE],
        [E_CHIP, np.where(u < WALLET_SHARE, E_WALLET, E_CONTACTLESS), E_MAGSTRIPE],
        np.where(on_file, E_ON_FILE, E_ECOMMERCE),
    ).astype(np.int8)


def customer_devices(seed: int, customer: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One of the customer's 1–3 phones and computers, as a stable token."""
    salt = salt_for(seed, "device")
    count = 1 + (mix64(customer.astype(np.uint64), salt) % np.uint64(3)).astype(np.int64)
    which = (u * count).astype(np.uint64)
    return mix64(customer.astype(np.uint64) * np.uint64(4) + which, salt)
