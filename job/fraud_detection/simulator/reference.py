"""Static reference data: countries, merchant categories, the rhythm of a day.

Numbers are plausible rather than official; they shape the synthetic world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Country:
    code: str
    locale: str  # mimesis locale used for city and merchant vocabularies
    currency: str
    eur_rate: float  # units of `currency` per euro
    lat: float
    lon: float
    spread_deg: float  # how far cities scatter around the centre
    weight: float  # share of customers living there
    tz: str  # IANA time zone: the local clock its people pay by
    eea: bool  # inside the European Economic Area (strong customer authentication applies)


COUNTRIES: tuple[Country, ...] = (
    Country("GB", "EN_GB", "GBP", 0.85, 52.6, -1.5, 1.6, 0.16, "Europe/London", False),
    Country("DE", "DE", "EUR", 1.00, 51.0, 10.3, 1.8, 0.20, "Europe/Berlin", True),
    Country("FR", "FR", "EUR", 1.00, 46.6, 2.4, 2.0, 0.16, "Europe/Paris", True),
    Country("ES", "ES", "EUR", 1.00, 40.3, -3.7, 2.0, 0.10, "Europe/Madrid", True),
    Country("IT", "IT", "EUR", 1.00, 43.0, 12.5, 2.0, 0.10, "Europe/Rome", True),
    Country("NL", "NL", "EUR", 1.00, 52.2, 5.5, 0.5, 0.06, "Europe/Amsterdam", True),
    Country("PL", "PL", "PLN", 4.30, 52.0, 19.3, 1.6, 0.08, "Europe/Warsaw", True),
    Country("SE", "SV", "SEK", 11.4, 59.5, 16.0, 1.8, 0.04, "Europe/Stockholm", True),
    Country("PT", "PT", "EUR", 1.00, 39.6, -8.2, 0.9, 0.04, "Europe/Lisbon", True),
    Country("DK", "DA", "DKK", 7.46, 55.9, 10.0, 0.7, 0.03, "Europe/Copenhagen", True),
    Country("CZ", "CS", "CZK", 25.0, 49.8, 15.4, 0.9, 0.03, "Europe/Prague", True),
)
N_COUNTRIES = len(COUNTRIES)
COUNTRY_WEIGHTS = np.array([c.weight for c in COUNTRIES]) / sum(c.weight for c in COUNTRIES)


@dataclass(frozen=True)
class Category:
    mcc: str
    name: str
    median_eur: float  # median ticket in euros
    sigma: float  # log-normal spread: the heavy tail
    online: float  # share of this category's payments made online
    weight: float  # share of all payments
    hour_profile: str  # which part of the day it peaks in


# Small-ticket categories (transit, digital goods, donations, fast food) are where
# card testing hides, so legitimate small charges are plentiful too.
CATEGORIES: tuple[Category, ...] = (
    Category("5411", "Grocery Stores, Supermarkets", 28.0, 0.8, 0.06, 0.19, "day"),
    Category("5499", "Convenience Stores, Misc Food", 8.0, 0.7, 0.02, 0.07, "day"),
    Category("5812", "Eating Places, Restaurants", 32.0, 0.7, 0.03, 0.08, "evening"),
    Category("5814", "Fast Food Restaurants", 9.5, 0.6, 0.10, 0.08, "evening"),
    Category("5541", "Service Stations", 52.0, 0.5, 0.00, 0.06, "day"),
    Category("4111", "Local Commuter Transport", 3.2, 0.6, 0.25, 0.07, "commute"),
    Category("4121", "Taxicabs and Rideshares", 17.0, 0.6, 0.70, 0.03, "evening"),
    Category("5912", "Drug Stores and Pharmacies", 15.0, 0.8, 0.08, 0.04, "day"),
    Category("5311", "Department Stores", 55.0, 0.9, 0.30, 0.04, "day"),
    Category("5651", "Family Clothing Stores", 58.0, 0.8, 0.45, 0.04, "day"),
    Category("5732", "Electronics Stores", 110.0, 1.1, 0.55, 0.03, "day"),
    Category("5942", "Book Stores", 17.0, 0.6, 0.50, 0.015, "day"),
    Category("5815", "Digital Goods - Media", 4.5, 0.9, 1.00, 0.04, "evening"),
    Category("5816", "Digital Goods - Games", 7.0, 1.0, 1.00, 0.025, "night"),
    Category("4899", "Streaming and Cable Services", 11.0, 0.4, 1.00, 0.025, "day"),
    Category("5977", "Cosmetic Stores", 24.0, 0.7, 0.35, 0.02, "day"),
    Category("7832", "Motion Picture Theaters", 14.0, 0.4, 0.40, 0.01, "evening"),
    Category("7995", "Betting and Gambling", 25.0, 1.1, 0.85, 0.015, "night"),
    Category("8398", "Charitable Organizations", 12.0, 1.0, 0.80, 0.01, "day"),
    Category("5944", "Jewelry Stores", 260.0, 1.0, 0.30, 0.006, "day"),
    Category("7011", "Hotels and Lodging", 160.0, 0.7, 0.70, 0.012, "day"),
    Category("4511", "Airlines", 210.0, 0.7, 0.95, 0.008, "day"),
    Category("5999", "Miscellaneous Retail", 26.0, 1.0, 0.50, 0.04, "day"),
    Category("6051", "Quasi Cash and Crypto", 150.0, 1.0, 0.95, 0.004, "night"),
)

N_CATEGORIES = len(CATEGORIES)
CATEGORY_WEIGHTS = np.array([c.weight for c in CATEGORIES])
CATEGORY_WEIGHTS = CATEGORY_WEIGHTS / CATEGORY_WEIGHTS.sum()
CATEGORY_MEDIAN_EUR = np.array([c.median_eur for c in CATEGORIES])
CATEGORY_SIGMA = np.array([c.sigma for c in CATEGORIES])
CATEGORY_ONLINE = np.array([c.online for c in CATEGORIES])
ONLINE_ONLY = CATEGORY_ONLINE >= 0.95
EUR_RATE = np.array([c.eur_rate for c in COUNTRIES])

# Indices into schema.CHANNELS and schema.ENTRY_MODES (the order the contract lists them).
CHIP, CONTACTLESS, ONLINE, SWIPE = range(4)
E_CHIP, E_CONTACTLESS, E_WALLET, E_MAGSTRIPE, E_ECOMMERCE, E_ON_FILE = range(6)
COUNTRY_EEA = np.array([c.eea for c in COUNTRIES])

CARD_BRAND_WEIGHTS = np.array([0.58, 0.36, 0.06])
# A few issuing programmes (BINs) per brand and card type: first digit by brand
# (4 Visa, 5 Mastercard, 3 Amex), then a fixed range per type.
BINS_PER_PRODUCT = 4
BINS: tuple[str, ...] = tuple(
    f"{first}{kind}{program:04d}"[:6]
    for first in ("4", "5", "3")
    for kind in ("1", "2", "6")  # debit, credit, prepaid
    for program in (1207, 3318, 5561, 7793)
)
CARD_TYPE_WEIGHTS = np.array([0.62, 0.33, 0.05])
# Relative odds that a card of each type is compromised: credit cards are worth more
# to fraudsters and are used more online; prepaid cards are cheap to test.
CARD_TYPE_RISK = np.array([1.0, 2.2, 1.6])


# Payments per hour of the local clock, relative.
# Quiet nights, a lunch bump, an evening peak; weekends start later.
_WEEKDAY_HOURS = [
    0.9, 0.5, 0.3, 0.25, 0.3, 0.6, 1.8, 3.6, 4.6, 4.8, 5.0, 5.6,
    6.4, 6.0, 5.4, 5.3, 5.6, 6.3, 6.6, 6.0, 4.8, 3.6, 2.4, 1.5,
]  # fmt: skip
_WEEKEND_HOURS = [
    1.4, 0.9, 0.6, 0.4, 0.3, 0.35, 0.7, 1.4, 2.6, 3.9, 5.0, 5.8,
    6.3, 6.2, 5.9, 5.7, 5.6, 5.8, 6.0, 5.7, 4.9, 3.9, 2.9, 2.0,
]  # fmt: skip


def hourly_intensity(weekday: int) -> np.ndarray:
    """Relative payment intensity for each local hour of a day (Mon=0 … Sun=6)."""
    hours = _WEEKEND_HOURS if weekday >= 5 else _WEEKDAY_HOURS
    if weekday == 4:  # Friday evenings run late
        hours = [h * (1.25 if i >= 19 else 1.0) for i, h in enumerate(hours)]
    return np.asarray(hours, dtype=np.float64)


WEEK_INTENSITY = np.stack([hourly_intensity(wd) for wd in range(7)])  # (weekday, local hour)


# Category mix by hour profile: how strongly each profile favours each hour.
_PROFILE_HOURS = {
    "day": [0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.6, 0.9, 1.1, 1.2, 1.3, 1.3,
            1.3, 1.3, 1.3, 1.3, 1.3, 1.3, 1.2, 1.0, 0.7, 0.5, 0.3, 0.2],
    "evening": [0.6, 0.4, 0.3, 0.2, 0.2, 0.2, 0.4, 0.6, 0.6, 0.6, 0.8, 1.2,
                1.6, 1.3, 0.8, 0.7, 0.8, 1.2, 1.7, 1.9, 1.8, 1.4, 1.0, 0.8],
    "commute": [0.3, 0.2, 0.1, 0.1, 0.3, 1.0, 2.4, 2.8, 2.2, 1.0, 0.7, 0.7,
                0.8, 0.8, 0.8, 1.0, 1.8, 2.4, 2.0, 1.1, 0.7, 0.6, 0.5, 0.4],
    "night": [2.0, 2.2, 2.0, 1.7, 1.2, 0.6, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
              1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 1.9, 2.0],
}  # fmt: skip


def category_hour_cdf(multiplier: np.ndarray | None = None) -> np.ndarray:
    """Cumulative category distribution for each local hour: shape (24, n_categories).

    `multiplier` (one per category) reshapes the mix for a day of the calendar.
    """
    weights = np.array([c.weight for c in CATEGORIES])
    if multiplier is not None:
        weights = weights * multiplier
    profiles = np.array([_PROFILE_HOURS[c.hour_profile] for c in CATEGORIES])  # (C, 24)
    per_hour = (weights[:, None] * profiles).T  # (24, C)
    per_hour /= per_hour.sum(axis=1, keepdims=True)
    cdf = np.cumsum(per_hour, axis=1)
    cdf[:, -1] = 1.0
    return cdf
