"""Entity populations: customers, cards, merchants and terminals.

A pure function of (seed, sizes): the same seed gives the same entities on every
day, so keys recur across days. Every attribute comes from its own random stream,
so growing a population keeps the existing entities unchanged.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import polars as pl

from fraud_detection.schema import CARD_BRANDS, CARD_TYPES
from fraud_detection.simulator.keys import entity_keys
from fraud_detection.simulator.reference import (
    BINS_PER_PRODUCT,
    CARD_BRAND_WEIGHTS,
    CARD_TYPE_WEIGHTS,
    CATEGORY_WEIGHTS,
    COUNTRIES,
    N_CATEGORIES,
    N_COUNTRIES,
    ONLINE_ONLY,
)
from fraud_detection.simulator.sampling import GuideTable
from fraud_detection.simulator.seeding import rng
from fraud_detection.simulator.vocabulary import Cities, build_cities, merchant_names

HOUSEHOLD_SHARE = 0.35  # pairs of customers who live together (and share a computer)
WORLD_DAY = date(2025, 1, 1).toordinal()  # tenure is counted back from here
NEW_ACCOUNTS_FROM = date(2025, 1, 1).toordinal()
NEW_ACCOUNT_SPAN_DAYS = 730  # new customers join over 2025 and 2026
NEW_ACCOUNT_SHARE = 0.06
CARD_ISSUE_LAG_DAYS = 1096  # a slot's first plastic comes within three years of the account


@dataclass(frozen=True)
class PopulationSizes:
    customers: int = 400_000
    merchants: int = 40_000


@dataclass(frozen=True)
class Groups:
    """Entities sorted by a group key, with each group's [start, start+count) range."""

    order: np.ndarray  # entity indices sorted by group, then -1 (what an empty group gives)
    start: np.ndarray  # per group
    count: np.ndarray  # per group
    # Per group, worked out once rather than per row: the positions a pick is clipped to
    # (the -1 for an empty group), and the cumulative weight before and after the group.
    first: np.ndarray
    last: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cum_weight: GuideTable | None = None  # cumulative weight along `order`

    @staticmethod
    def build(keys: np.ndarray, n_groups: int, weight: np.ndarray | None = None) -> Groups:
        # Small unsigned keys sort by radix (linear time); the order is the same.
        small = np.uint8 if n_groups <= 1 << 8 else np.uint16 if n_groups <= 1 << 16 else None
        order = np.argsort(keys.astype(small) if small else keys, kind="stable")
        count = np.bincount(keys, minlength=n_groups)
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        n = len(order)
        cum = None if weight is None else GuideTable(np.cumsum(weight[order]))
        cw = np.zeros(max(n, 1)) if cum is None else cum.cdf
        return Groups(
            order=np.append(order, -1),
            start=start,
            count=count,
            first=np.where(count > 0, start, n),
            last=np.where(count > 0, start + count - 1, n),
            lo=np.where(start > 0, cw[np.maximum(start - 1, 0)], 0.0),
            hi=cw[np.maximum(start + count - 1, 0)],
            cum_weight=cum,
        )

    def pick(self, group: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One entity per row from its group (-1 where the group is empty), weighted if set."""
        if self.cum_weight is None:
            count = self.count[group]
            pos = self.start[group] + (u * count).astype(np.int64)
            safe = np.minimum(pos, len(self.order) - 2)
            return np.where(count > 0, self.order[safe], -1)
        lo, hi = self.lo[group], self.hi[group]
        pos = self.cum_weight.find(lo + u * (hi - lo))
        return self.order[np.clip(pos, self.first[group], self.last[group], out=pos)]


@dataclass(frozen=True)
class Population:
    seed: int
    sizes: PopulationSizes
    cities: Cities
    # customers
    customer_id: pl.Series
    home_city: np.ndarray
    home_lat: np.ndarray
    home_lon: np.ndarray
    activity_weight: np.ndarray  # how often each customer pays: a few often, most rarely
    amount_scale: np.ndarray  # the customer's spending level
    online_affinity: np.ndarray
    favourite_categories: np.ndarray  # (customers, 2)
    card_start: np.ndarray
    card_count: np.ndarray
    household_head: np.ndarray  # per customer: the household's first member (itself if alone)
    account_opened: np.ndarray  # per customer: day ordinal the account was opened
    # cards: a card slot is one of a customer's cards over time (cards.py: its plastics)
    card_customer: np.ndarray
    card_brand: np.ndarray  # index into CARD_BRANDS
    card_type: np.ndarray  # index into CARD_TYPES
    card_bin: np.ndarray  # index into reference.BINS
    card_first_issue: np.ndarray  # day ordinal the slot's first plastic was issued
    credit_limit: np.ndarray  # euros; 0 for debit and prepaid
    # merchants
    merchant_id: pl.Series
    merchant_name: pl.Series
    merchant_category: np.ndarray
    merchant_city: np.ndarray
    merchant_lat: np.ndarray
    merchant_lon: np.ndarray
    terminal_start: np.ndarray
    terminal_count: np.ndarray
    merchants_by_city_category: Groups
    merchants_by_country_category: Groups
    merchants_by_category: Groups
    # terminals
    terminal_id: pl.Series
    terminal_merchant: np.ndarray

    def home_country_of_city(self, city: np.ndarray) -> np.ndarray:
        return self.cities.country[city].astype(np.int64)

    @cached_property
    def card_id(self) -> pl.Series:
        """The key of each slot's first plastic. Built on demand: payments key the
        plastic they use (frame.py), not the slot."""
        return entity_ids(self.seed, "card", self.n_cards)

    @cached_property
    def home_country(self) -> np.ndarray:
        return self.cities.country[self.home_city].astype(np.int64)

    @cached_property
    def cities_by_country(self) -> Groups:
        """Cities of each country, weighted by population (big cities first in line)."""
        c = self.cities
        return Groups.build(c.country.astype(np.int64), N_COUNTRIES, c.weight)

    @cached_property
    def merchant_country(self) -> np.ndarray:
        return self.cities.country[self.merchant_city].astype(np.int64)

    @cached_property
    def nearest_city_with(self) -> np.ndarray:
        """For each (city, category): the nearest city with such a merchant (-1 if none)."""
        return self._nearest[0]

    @cached_property
    def nearest_km(self) -> np.ndarray:
        """For each (city, category): how far the nearest such merchant's town is (inf if none)."""
        return self._nearest[1]

    @cached_property
    def _nearest(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.cities
        has = np.zeros((len(c), N_CATEGORIES), dtype=bool)
        has[self.merchant_city, self.merchant_category] = True
        # Equirectangular distances between city centres: plenty for ranking neighbours,
        # in float32 (half the memory to touch); the kilometres are float64, below.
        lat, lon = np.radians(c.lat), np.radians(c.lon)
        lat32, lon32 = lat.astype(np.float32), lon.astype(np.float32)
        dist = _squared_radians(lat32[:, None], lon32[:, None], lat32[None, :], lon32[None, :])
        out = np.full((len(c), N_CATEGORIES), -1, dtype=np.int64)
        for cat in range(N_CATEGORIES):
            candidates = np.flatnonzero(has[:, cat])
            if len(candidates):
                # dist is symmetric (the same float operations either way round), so the
                # candidates' rows are their columns: contiguous rows copy faster.
                out[:, cat] = candidates[np.argmin(dist[candidates], axis=0)]
        found = out >= 0
        to = np.where(found, out, 0)
        km = 6371.0 * np.sqrt(_squared_radians(lat[:, None], lon[:, None], lat[to], lon[to]))
        km[~found] = np.inf
        return out, km

    @property
    def n_customers(self) -> int:
        return len(self.home_city)

    @property
    def n_cards(self) -> int:
        return len(self.card_customer)

    @property
    def n_terminals(self) -> int:
        return len(self.terminal_merchant)


def _squared_radians(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Equirectangular squared distance in radians², in the inputs' float type."""
    x = (lon1 - lon2) * np.cos(0.5 * (lat1 + lat2))
    return x**2 + (lat1 - lat2) ** 2


def entity_ids(seed: int, kind: str, n: int) -> pl.Series:
    """Opaque, stable keys: a bijection of the index, so never two alike (see keys.py)."""
    return entity_keys(seed, kind, n)


def _draw_city(seed: int, kind: str, cities: Cities, n: int) -> np.ndarray:
    # = searchsorted(cdf, u * total, side="right"); fine buckets, as big cities are heavy.
    by_weight = GuideTable(np.cumsum(cities.weight), buckets_per_entry=16)
    return by_weight.draw(rng(seed, kind, "city").random(n)).astype(np.int32)


def _jitter(seed: int, kind: str, axis: str, n: int, scale: float) -> np.ndarray:
    # = normal(0.0, scale, n): scale * a standard draw, without numpy's call per draw.
    return scale * rng(seed, kind, axis).standard_normal(n)


def _households(seed: int, nc: int) -> np.ndarray:
    """Customers 2k and 2k+1 share a home (a couple, flatmates) for a share of pairs."""
    head = np.arange(nc)
    pair = np.arange(nc // 2)
    together = rng(seed, "customer", "household").random(len(pair)) < HOUSEHOLD_SHARE
    head[2 * pair[together] + 1] = 2 * pair[together]
    return head


def _account_opened(seed: int, nc: int) -> np.ndarray:
    """Tenure: most accounts are years old; a few open during the feed's first years."""
    g = rng(seed, "customer", "opened")
    years = 7.0 * g.standard_exponential(nc)  # = g.exponential(7.0, nc), faster
    old = WORLD_DAY - np.minimum(years * 365.25, 40 * 365.25).astype(np.int64)
    new = NEW_ACCOUNTS_FROM + (g.random(nc) * NEW_ACCOUNT_SPAN_DAYS).astype(np.int64)
    return np.where(g.random(nc) < NEW_ACCOUNT_SHARE, new, old)


def build_population(seed: int, sizes: PopulationSizes | None = None) -> Population:
    sizes = sizes or PopulationSizes()
    # Keys, merchants and their names do not depend on the customers: a second thread
    # builds them while this one draws the customers and cards (numpy releases the GIL).
    # Every attribute has its own stream, so the result is the same either way.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="population") as pool:
        return _build_population(seed, sizes, pool)


@dataclass(frozen=True)
class _Merchants:
    category: np.ndarray
    city: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    popularity: np.ndarray
    country: np.ndarray
    terminal_count: np.ndarray
    name: pl.Series
    by_city_category: Groups
    by_country_category: Groups
    by_category: Groups


def _build_merchants(seed: int, nm: int, cities: Cities) -> _Merchants:
    category = rng(seed, "merchant", "category").choice(N_CATEGORIES, nm, p=CATEGORY_WEIGHTS)
    city = _draw_city(seed, "merchant", cities, nm)
    popularity = rng(seed, "merchant", "popularity").lognormal(0.0, 1.0, nm)
    country = cities.country[city]
    # Online-only merchants take card-not-present payments through one virtual terminal.
    terminal_count = np.where(
        ONLINE_ONLY[category], 1, 1 + rng(seed, "merchant", "terminals").poisson(1.3, nm)
    )
    return _Merchants(
        category=category,
        city=city,
        lat=cities.lat[city] + _jitter(seed, "merchant", "lat", nm, 0.04),
        lon=cities.lon[city] + _jitter(seed, "merchant", "lon", nm, 0.06),
        popularity=popularity,
        country=country,
        terminal_count=terminal_count,
        name=merchant_names(seed, country, category),
        by_city_category=Groups.build(
            city.astype(np.int64) * N_CATEGORIES + category, len(cities) * N_CATEGORIES, popularity
        ),
        by_country_category=Groups.build(
            country.astype(np.int64) * N_CATEGORIES + category,
            len(COUNTRIES) * N_CATEGORIES,
            popularity,
        ),
        by_category=Groups.build(category, N_CATEGORIES, popularity),
    )


def _build_population(seed: int, sizes: PopulationSizes, pool: ThreadPoolExecutor) -> Population:
    nc, nm = sizes.customers, sizes.merchants
    cities = build_cities(seed)
    merchants = pool.submit(_build_merchants, seed, nm, cities)
    customer_id = pool.submit(entity_ids, seed, "customer", nc)
    merchant_id = pool.submit(entity_ids, seed, "merchant", nm)

    # --- customers: members of a household live in the head's town, a street apart
    head = _households(seed, nc)
    home_city = _draw_city(seed, "customer", cities, nc)[head]
    home_lat = (cities.lat[home_city] + _jitter(seed, "customer", "lat", nc, 0.04))[head]
    home_lon = (cities.lon[home_city] + _jitter(seed, "customer", "lon", nc, 0.06))[head]
    home_lat = home_lat + _jitter(seed, "customer", "street-lat", nc, 0.002)
    home_lon = home_lon + _jitter(seed, "customer", "street-lon", nc, 0.003)
    opened = _account_opened(seed, nc)
    activity = rng(seed, "customer", "activity").lognormal(0.0, 0.15, nc)
    amount_scale = rng(seed, "customer", "amount").lognormal(0.0, 0.35, nc)
    online_affinity = 0.4 + 1.4 * rng(seed, "customer", "online").beta(2.0, 3.0, nc)
    fav_cdf = np.cumsum(CATEGORY_WEIGHTS)
    u = rng(seed, "customer", "favourites").random((nc, 2))
    favourites = GuideTable(fav_cdf, 16, side="left").find(u.ravel()).reshape(nc, 2)
    favourites = np.minimum(favourites, N_CATEGORIES - 1).astype(np.int16)
    card_count = 1 + rng(seed, "customer", "cards").binomial(2, 0.16, nc)
    card_start = np.concatenate([[0], np.cumsum(card_count)[:-1]])

    # --- cards
    n_cards = int(card_count.sum())
    card_customer = np.repeat(np.arange(nc), card_count)
    brand_idx = rng(seed, "card", "brand").choice(len(CARD_BRANDS), n_cards, p=CARD_BRAND_WEIGHTS)
    type_idx = rng(seed, "card", "type").choice(len(CARD_TYPES), n_cards, p=CARD_TYPE_WEIGHTS)
    program = (rng(seed, "card", "bin").random(n_cards) * BINS_PER_PRODUCT).astype(np.int64)
    bin_idx = (brand_idx * len(CARD_TYPES) + type_idx) * BINS_PER_PRODUCT + program
    # The first card comes with the account; further cards within three years.
    later = (rng(seed, "card", "issued").random(n_cards) * CARD_ISSUE_LAG_DAYS).astype(np.int64)
    first_issue = opened[card_customer] + np.where(
        np.arange(n_cards) == card_start[card_customer], 0, later
    )
    # Limits follow spending, in steps of 500 euros.
    limit = 500 * np.ceil(
        amount_scale[card_customer] * rng(seed, "card", "limit").lognormal(1.6, 0.5, n_cards)
    )
    credit_limit = np.where(type_idx == CARD_TYPES.index("credit"), limit, 0).astype(np.int32)

    m = merchants.result()
    terminal_start = np.concatenate([[0], np.cumsum(m.terminal_count)[:-1]])
    terminal_id = entity_ids(seed, "terminal", int(m.terminal_count.sum()))
    return Population(
        seed=seed,
        sizes=sizes,
        cities=cities,
        customer_id=customer_id.result(),
        home_city=home_city,
        home_lat=home_lat,
        home_lon=home_lon,
        activity_weight=activity,
        amount_scale=amount_scale,
        online_affinity=online_affinity,
        favourite_categories=favourites,
        card_start=card_start,
        card_count=card_count,
        household_head=head,
        account_opened=opened,
        card_customer=card_customer,
        card_brand=brand_idx.astype(np.int8),
        card_type=type_idx.astype(np.int8),
        card_bin=bin_idx.astype(np.int16),
        card_first_issue=first_issue,
        credit_limit=credit_limit,
        merchant_id=merchant_id.result(),
        merchant_name=m.name,
        merchant_category=m.category.astype(np.int16),
        merchant_city=m.city,
        merchant_lat=m.lat,
        merchant_lon=m.lon,
        terminal_start=terminal_start,
        terminal_count=m.terminal_count,
        merchants_by_city_category=m.by_city_category,
        merchants_by_country_category=m.by_country_category,
        merchants_by_category=m.by_category,
        terminal_id=terminal_id,
        terminal_merchant=np.repeat(np.arange(nm), m.terminal_count),
    )
