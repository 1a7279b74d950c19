"""Seeded vocabularies built once with mimesis: cities and merchant names.

mimesis is called a few thousand times here and never per row: rows pick from
these tables by index.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
from mimesis import Address, Finance, Person
from mimesis.locales import Locale

from fraud_detection.simulator.reference import CATEGORIES, COUNTRIES
from fraud_detection.simulator.sampling import GuideTable
from fraud_detection.simulator.seeding import rng, salt_for

MAX_CITIES_PER_COUNTRY = 80
_SURNAMES_PER_COUNTRY = 150
_COMPANIES_PER_COUNTRY = 60

# Shop-name suffixes by MCC; "{surname} Bakery"-style names read like real merchants.
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "5411": ("Supermarket", "Market", "Grocers", "Foods"),
    "5499": ("Corner Shop", "Deli", "Mini Market", "Express"),
    "5812": ("Bistro", "Trattoria", "Kitchen", "Brasserie", "Grill"),
    "5814": ("Burgers", "Kebab", "Pizza", "Noodles", "Fries"),
    "5541": ("Fuel", "Petrol", "Service Station"),
    "4111": ("Transit", "City Transport", "Metro"),
    "4121": ("Cabs", "Taxi", "Rides"),
    "5912": ("Pharmacy", "Apotheke", "Chemist"),
    "5311": ("Department Store", "Galleria"),
    "5651": ("Fashion", "Clothing", "Outfitters"),
    "5732": ("Electronics", "Digital", "Tech"),
    "5942": ("Books", "Bookshop"),
    "5815": ("Media", "Streams", "eBooks"),
    "5816": ("Games", "Play", "Arcade"),
    "4899": ("TV", "Streaming", "Cable"),
    "5977": ("Beauty", "Cosmetics"),
    "7832": ("Cinema", "Kino", "Pictures"),
    "7995": ("Bet", "Casino", "Sports Betting"),
    "8398": ("Foundation", "Charity", "Aid"),
    "5944": ("Jewellers", "Gold", "Diamonds"),
    "7011": ("Hotel", "Inn", "Suites"),
    "4511": ("Air", "Airways", "Wings"),
    "5999": ("Store", "Shop", "Goods"),
    "6051": ("Exchange", "Crypto", "Pay"),
}


@dataclass(frozen=True)
class Cities:
    """All cities of the synthetic world, one row each."""

    name: pl.Series
    country: np.ndarray  # index into COUNTRIES
    lat: np.ndarray
    lon: np.ndarray
    weight: np.ndarray  # share of the population living there (sums to 1)

    def __len__(self) -> int:
        return len(self.country)

    @cached_property
    def table(self) -> GuideTable:
        return GuideTable(np.cumsum(self.weight))


@dataclass(frozen=True)
class NameParts:
    surnames: list[list[str]]  # per country
    companies: list[list[str]]  # per country
    suffixes: list[tuple[str, ...]]  # per category


def _unique(draw: object, count: int, attempts: int) -> list[str]:
    seen: dict[str, None] = {}
    for _ in range(attempts):
        seen.setdefault(draw(), None)  # type: ignore[operator]
        if len(seen) == count:
            break
    return list(seen)


def build_cities(seed: int) -> Cities:
    names: list[str] = []
    country: list[int] = []
    lats: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for ci, c in enumerate(COUNTRIES):
        address = Address(Locale[c.locale], seed=salt_for(seed, "cities", c.code))
        city_names = _unique(address.city, MAX_CITIES_PER_COUNTRY, 20 * MAX_CITIES_PER_COUNTRY)
        g = rng(seed, "city-geo", c.code)
        n = len(city_names)
        # Cities scatter around the country's centre; the first is its capital.
        lat = c.lat + g.normal(0.0, c.spread_deg * 0.5, n).clip(-c.spread_deg, c.spread_deg)
        lon = c.lon + g.normal(0.0, c.spread_deg * 0.8, n).clip(
            -1.6 * c.spread_deg, 1.6 * c.spread_deg
        )
        zipf = 1.0 / np.arange(1, n + 1) ** 1.05  # a few big cities, a long tail of towns
        names += city_names
        country += [ci] * n
        lats.append(lat)
        lons.append(lon)
        weights.append(c.weight * zipf / zipf.sum())
    w = np.concatenate(weights)
    return Cities(
        name=pl.Series("city", names, dtype=pl.String),
        country=np.asarray(country, dtype=np.int32),
        lat=np.concatenate(lats),
        lon=np.concatenate(lons),
        weight=w / w.sum(),
    )


def build_name_parts(seed: int) -> NameParts:
    surnames: list[list[str]] = []
    companies: list[list[str]] = []
    for c in COUNTRIES:
        person = Person(Locale[c.locale], seed=salt_for(seed, "surnames", c.code))
        finance = Finance(Locale[c.locale], seed=salt_for(seed, "companies", c.code))
        surnames.append(_unique(person.last_name, _SURNAMES_PER_COUNTRY, 4 * _SURNAMES_PER_COUNTRY))
        companies.append(
            _unique(finance.company, _COMPANIES_PER_COUNTRY, 4 * _COMPANIES_PER_COUNTRY)
        )
    suffixes = [_SUFFIXES.get(cat.mcc, ("Store",)) for cat in CATEGORIES]
    return NameParts(surnames=surnames, companies=companies, suffixes=suffixes)


def merchant_names(seed: int, country: np.ndarray, category: np.ndarray) -> pl.Series:
    """One trading name per merchant: "{surname} {suffix}" or "{company} {suffix}"."""
    parts = build_name_parts(seed)
    name_rng = rng(seed, "merchant", "name")
    n = len(country)

    def flat(
        groups: list[list[str]] | list[tuple[str, ...]],
    ) -> tuple[pl.Series, np.ndarray, np.ndarray]:
        lengths = np.array([len(g) for g in groups])
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return pl.Series([s for g in groups for s in g]), offsets, lengths

    def gather(
        groups: list[list[str]] | list[tuple[str, ...]], key: np.ndarray, u: np.ndarray
    ) -> pl.Series:
        values, offsets, lengths = flat(groups)
        return values.gather(offsets[key] + (u * lengths[key]).astype(np.int64))

    u = name_rng.random((3, n))
    surname = gather(parts.surnames, country, u[0])
    company = gather(parts.companies, country, u[1])
    suffix = gather(parts.suffixes, category, u[2])
    use_company = pl.Series(name_rng.random(n) < 0.3)
    return (
        pl.DataFrame({"s": surname, "c": company, "x": suffix, "co": use_company})
        .select(
            pl.when(pl.col("co"))
            .then(pl.concat_str("c", "x", separator=" "))
            .otherwise(pl.concat_str("s", "x", separator=" "))
        )
        .to_series()
        .alias("merchant_name")
    )
