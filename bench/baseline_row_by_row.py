"""The yardstick: payments generated one row at a time, as the feed's first generator did.

Each payment is a Python dict; its values are drawn with `random`, `bisect` and `math`,
and the merchant name and city come from mimesis per row. polars then builds the frame
and writes zstd Parquet. `make bench` compares its rows/s with the job's.

It keeps its own small model (categories, countries, customers, merchants) on purpose:
it imports nothing from the job, so the benchmark keeps running while the job's
internals change. Its columns and types are taken from the Parquet file the job wrote,
so it produces the same table shape. A column it has no model for gets a plain random
value of that column's type (`generic_columns` says which).
"""

from __future__ import annotations

import bisect
import math
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import polars as pl
from mimesis import Address, Finance
from mimesis.locales import Locale


@dataclass(frozen=True)
class Category:
    mcc: str
    name: str
    median_eur: float
    online_share: float


@dataclass(frozen=True)
class Country:
    code: str
    currency: str
    eur_rate: float
    lat: float
    lon: float


CATEGORIES = (
    Category("5411", "Grocery Stores, Supermarkets", 38.0, 0.08),
    Category("5812", "Eating Places, Restaurants", 32.0, 0.05),
    Category("5814", "Fast Food Restaurants", 11.0, 0.10),
    Category("5541", "Service Stations", 55.0, 0.0),
    Category("4111", "Commuter Transport", 3.0, 0.30),
    Category("5732", "Electronics Stores", 180.0, 0.55),
    Category("5651", "Family Clothing Stores", 60.0, 0.45),
    Category("5944", "Jewelry Stores", 260.0, 0.20),
    Category("4511", "Airlines", 210.0, 0.90),
    Category("7011", "Hotels, Motels, Resorts", 140.0, 0.70),
    Category("5912", "Drug Stores, Pharmacies", 18.0, 0.10),
    Category("5816", "Digital Goods: Games", 9.0, 1.0),
)
COUNTRIES = (
    Country("DE", "EUR", 1.0, 51.2, 10.4),
    Country("FR", "EUR", 1.0, 46.6, 2.4),
    Country("GB", "GBP", 0.85, 53.0, -1.5),
    Country("PL", "PLN", 4.3, 52.1, 19.4),
    Country("SE", "SEK", 11.2, 60.1, 15.6),
    Country("ES", "EUR", 1.0, 40.4, -3.7),
)
HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 10, 9, 7, 7, 7, 8, 9, 9, 8, 6, 4, 3)
CHANNELS = ("chip", "contactless", "swipe")
CARD_BRANDS = ("visa", "mastercard", "amex")
CARD_TYPES = ("debit", "credit", "prepaid")
SCENARIOS = ("compromised_terminal", "compromised_card", "card_testing", "account_takeover")
FRAUD_RATE = 0.005


@dataclass
class World:
    """Customers and merchants, built once in plain Python lists (not timed)."""

    activity_cdf: list[float]
    home: list[tuple[float, float, int]]  # lat, lon, country index
    cards: list[list[tuple[int, int, int]]]  # per customer: (card number, brand, type)
    merchants_by_category: list[list[tuple[int, float, float, int]]]  # (id, lat, lon, country)


def build_world(customers: int, merchants: int, seed: int) -> World:
    rnd = random.Random(seed)
    home = []
    for _ in range(customers):
        country = rnd.randrange(len(COUNTRIES))
        c = COUNTRIES[country]
        home.append((c.lat + rnd.uniform(-2, 2), c.lon + rnd.uniform(-3, 3), country))
    activity_cdf = list(accumulate(rnd.lognormvariate(0.0, 1.0) for _ in range(customers)))
    cards, card_no = [], 0
    for _ in range(customers):
        own = []
        for _ in range(rnd.randint(1, 3)):
            own.append((card_no, rnd.randrange(len(CARD_BRANDS)), rnd.randrange(len(CARD_TYPES))))
            card_no += 1
        cards.append(own)
    by_category: list[list[tuple[int, float, float, int]]] = [[] for _ in CATEGORIES]
    for m in range(merchants):
        country = rnd.randrange(len(COUNTRIES))
        c = COUNTRIES[country]
        by_category[m % len(CATEGORIES)].append(
            (m, c.lat + rnd.uniform(-2, 2), c.lon + rnd.uniform(-3, 3), country)
        )
    return World(activity_cdf, home, cards, by_category)


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(min(a, 1.0)))


def _generic(dtype: pl.DataType, rnd: random.Random, when: datetime) -> Any:
    """A plain random value of `dtype`, for a column the baseline has no model for."""
    if isinstance(dtype, pl.Enum):
        return rnd.choice(list(dtype.categories))
    if dtype == pl.String or isinstance(dtype, pl.Categorical):
        return "".join(rnd.choices(string.ascii_uppercase + string.digits, k=12))
    if dtype == pl.Boolean:
        return rnd.random() < 0.5
    if dtype.is_integer():
        return rnd.randrange(100)
    if dtype.is_float():
        return rnd.random()
    if isinstance(dtype, pl.Datetime):
        return when
    if dtype == pl.Date:
        return when.date()
    return None


def _fit(value: Any, dtype: pl.DataType, rnd: random.Random, when: datetime) -> Any:
    """The model's value in the column's type (keys may be strings or integers)."""
    if value is None:
        return None
    if dtype == pl.String or isinstance(dtype, pl.Categorical):
        return str(value)
    if dtype.is_integer():
        return value if isinstance(value, int) else _generic(dtype, rnd, when)
    if dtype.is_float():
        return float(value)
    if isinstance(dtype, pl.Enum):
        return value if value in dtype.categories else _generic(dtype, rnd, when)
    return value


def generic_columns(schema: pl.Schema) -> list[str]:
    """Columns of `schema` that the baseline's model does not know."""
    return [name for name in schema if name not in _MODEL_COLUMNS]


_MODEL_COLUMNS = frozenset(
    {
        "transaction_id", "event_timestamp", "customer_id", "card_id", "merchant_id",
        "terminal_id", "merchant_name", "mcc", "merchant_category", "merchant_country",
        "amount", "currency", "amount_eur", "channel", "card_brand", "card_type", "latitude",
        "longitude", "city", "country", "distance_from_home_km", "is_fraud", "fraud_scenario",
    }
)  # fmt: skip


def generate_rows(
    world: World, schema: pl.Schema, day: date, rows: int, seed: int = 42
) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    address, finance = Address(Locale.EN, seed=seed), Finance(Locale.EN, seed=seed)
    hour_cdf = list(accumulate(HOUR_WEIGHTS))
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    total_activity = world.activity_cdf[-1]
    fitters: list[tuple[str, pl.DataType]] = list(schema.items())
    out: list[dict[str, Any]] = []
    for _ in range(rows):
        hour = bisect.bisect_right(hour_cdf, rnd.random() * hour_cdf[-1])
        when = start + timedelta(hours=hour, seconds=rnd.random() * 3600)
        customer = bisect.bisect_right(world.activity_cdf, rnd.random() * total_activity)
        customer = min(customer, len(world.home) - 1)
        home_lat, home_lon, _ = world.home[customer]
        card, brand, card_type = rnd.choice(world.cards[customer])
        category_index = rnd.randrange(len(CATEGORIES))
        category = CATEGORIES[category_index]
        merchant, m_lat, m_lon, m_country = rnd.choice(world.merchants_by_category[category_index])
        country = COUNTRIES[m_country]
        online = rnd.random() < category.online_share
        lat, lon = (home_lat, home_lon) if online else (m_lat, m_lon)
        amount_eur = category.median_eur * math.exp(0.6 * rnd.gauss(0.0, 1.0))
        minor = max(1, round(amount_eur * country.eur_rate * 100))
        fraud = rnd.random() < FRAUD_RATE
        terminal = merchant * 8 + (0 if online else rnd.randrange(1, 6))
        values: dict[str, Any] = {
            "transaction_id": f"{day:%Y%m%d}-{rnd.getrandbits(64):020d}",
            "event_timestamp": when,
            "customer_id": f"C{customer:020d}",
            "card_id": f"K{card:020d}",
            "merchant_id": f"M{merchant:020d}",
            "terminal_id": f"T{terminal:020d}",
            "merchant_name": finance.company(),  # mimesis per row, as the first generator did
            "mcc": category.mcc,
            "merchant_category": category.name,
            "merchant_country": country.code,
            "amount": minor,
            "currency": country.currency,
            "amount_eur": round(minor / country.eur_rate / 100, 2),
            "channel": "online" if online else rnd.choice(CHANNELS),
            "card_brand": CARD_BRANDS[brand],
            "card_type": CARD_TYPES[card_type],
            "latitude": round(lat, 5),
            "longitude": round(lon, 5),
            "city": address.city(),
            "country": country.code,
            "distance_from_home_km": round(_haversine_km(home_lat, home_lon, lat, lon), 2),
            "is_fraud": fraud,
            "fraud_scenario": rnd.choice(SCENARIOS) if fraud else None,
        }
        row: dict[str, Any] = {}
        for name, dtype in fitters:
            if name in values:
                row[name] = _fit(values[name], dtype, rnd, when)
            else:
                row[name] = _generic(dtype, rnd, when)
        out.append(row)
    return out


Writer = Callable[[pl.DataFrame, Path], None]


def write(world: World, schema: pl.Schema, day: date, rows: int, path: Path, writer: Writer) -> int:
    """Generate `rows` payments one at a time and write them with `writer`."""
    frame = pl.DataFrame(generate_rows(world, schema, day, rows), schema=schema)
    writer(frame, path)
    return frame.height
