"""Legitimate payments for one block of rows, as index arrays (a Draft).

Everything is vectorised: one random draw per column per block, entities picked by
index from the population's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date

import numpy as np

from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.population import Population
from fraud_detection.simulator.reference import (
    CATEGORY_MEDIAN_EUR,
    CATEGORY_ONLINE,
    CATEGORY_SIGMA,
    CHIP,
    CONTACTLESS,
    N_CATEGORIES,
    ONLINE,
    SWIPE,
    category_hour_cdf,
)
from fraud_detection.simulator.seeding import rng

FAVOURITE_SHARE = 0.35  # how often a customer shops in one of their favourite categories
TRAVEL_SHARE = 0.015  # legitimate payments made away from home
_CATEGORY_HOUR_CDF = category_hour_cdf()


# Each Draft column declares its dtype, so `Draft.empty` needs no list of its own.
_INT = {"dtype": np.int64}
_FLOAT = {"dtype": np.float64}
_SMALL = {"dtype": np.int8}


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
    scenario: np.ndarray = field(
        metadata=_SMALL
    )  # -1 for legitimate, else index into FRAUD_SCENARIOS

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
    pop: Population, category: np.ndarray, city: np.ndarray, online: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """A merchant of the category: in the city for card-present, anywhere online.

    Small towns lack some shops; then the country, then anywhere, is searched.
    """
    category = category.astype(np.int64)
    merchant = np.full(len(category), -1, dtype=np.int64)
    local = np.flatnonzero(~online)
    if len(local):
        key = city[local].astype(np.int64) * N_CATEGORIES + category[local]
        merchant[local] = pop.merchants_by_city_category.pick(key, u[local])
    missing = local[merchant[local] < 0]
    if len(missing):
        country = pop.cities.country[city[missing]].astype(np.int64)
        key = country * N_CATEGORIES + category[missing]
        merchant[missing] = pop.merchants_by_country_category.pick(key, u[missing])
    rest = np.flatnonzero(merchant < 0)
    if len(rest):
        merchant[rest] = pop.merchants_by_category.pick(category[rest], u[rest])
    return merchant


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
    pop: Population, clock: DayClock, seed: int, block: int, start: int, stop: int
) -> Draft:
    day: date = clock.day
    g = rng(seed, "tx", day, clock.rows, block)
    n = stop - start
    row = np.arange(start, stop, dtype=np.int64)
    seconds = clock.seconds(row, g.random(n))
    hour = np.minimum((seconds // 3600).astype(np.int64), 23)

    # Who pays: activity-weighted, a few customers pay often, most rarely.
    customer = pop.activity.draw(g.random(n))
    card = pick_card(pop, customer, g.random(n))

    # What for: a favourite category, or the hour's usual mix. Rows are in time
    # order, so each hour is one contiguous run of the block.
    u_category = g.random(n)
    by_hour = np.empty(n, dtype=np.int64)
    bounds = np.searchsorted(hour, np.arange(25))
    for h in range(24):
        lo, hi = bounds[h], bounds[h + 1]
        by_hour[lo:hi] = np.searchsorted(_CATEGORY_HOUR_CDF[h], u_category[lo:hi], side="right")
    by_hour = np.minimum(by_hour, N_CATEGORIES - 1)
    favourite = pop.favourite_categories[customer, (g.random(n) < 0.5).astype(np.int64)]
    category = np.where(g.random(n) < FAVOURITE_SHARE, favourite, by_hour).astype(np.int64)

    online_p = np.minimum(CATEGORY_ONLINE[category] * pop.online_affinity[customer], 1.0)
    online = g.random(n) < online_p

    # Where: at home, or (rarely) travelling anywhere in the world we model.
    travelling = g.random(n) < TRAVEL_SHARE
    city = pop.home_city[customer].astype(np.int64)
    away = np.flatnonzero(travelling)
    city[away] = pop.cities.table.draw(g.random(len(away)))

    merchant = pick_merchant(pop, category, city, online, g.random(n))
    terminal = pick_terminal(pop, merchant, online, g.random(n))
    amount_eur = category_amount_eur(category, pop.amount_scale[customer], g.standard_normal(n))
    channel = np.where(online, ONLINE, card_present_channel(amount_eur, g.random(n))).astype(
        np.int8
    )

    # Online payments are located where the buyer is; card-present at the terminal.
    jitter = g.normal(0.0, 0.02, (2, n))
    at_home = ~travelling
    buyer_lat = np.where(at_home, pop.home_lat[customer], pop.cities.lat[city] + jitter[0])
    buyer_lon = np.where(at_home, pop.home_lon[customer], pop.cities.lon[city] + jitter[1])
    loc_lat = np.where(online, buyer_lat, pop.merchant_lat[merchant])
    loc_lon = np.where(online, buyer_lon, pop.merchant_lon[merchant])
    loc_city = np.where(online, city, pop.merchant_city[merchant])

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
        loc_city=loc_city.astype(np.int64),
        loc_lat=loc_lat,
        loc_lon=loc_lon,
        scenario=np.full(n, -1, dtype=np.int8),
    )
