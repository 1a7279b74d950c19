"""The yardstick: the same model and schema, generated one row at a time.

This is how the old generator worked (a Python dict per row, mimesis called per
row) applied to today's model: the same populations and tables, but each payment
is drawn with Python's `random`, `bisect` and `math`, row by row. `make bench`
compares its throughput with the vectorised generator; the job never uses it.
"""

from __future__ import annotations

import bisect
import math
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from mimesis import Address, Finance
from mimesis.locales import Locale

from fraud_detection.schema import SCHEMA
from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.population import Population
from fraud_detection.simulator.reference import (
    CARD_BRANDS,
    CARD_TYPES,
    CATEGORIES,
    CATEGORY_MEDIAN_EUR,
    CATEGORY_ONLINE,
    CATEGORY_SIGMA,
    COUNTRIES,
    EUR_RATE,
    FRAUD_SCENARIOS,
    category_hour_cdf,
)


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(min(a, 1.0)))


def generate_rows(pop: Population, day: date, rows: int, seed: int = 42) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    address, finance = Address(Locale.EN, seed=seed), Finance(Locale.EN, seed=seed)
    clock = DayClock.for_day(day, rows)
    cdf_hours = list(clock.cdf)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    activity = list(pop.activity.cdf)
    total = activity[-1]
    hour_cdf = category_hour_cdf().tolist()
    customer_ids, card_ids = pop.customer_id.to_list(), pop.card_id.to_list()
    merchant_ids = pop.merchant_id.to_list()
    by_cat: list[list[int]] = [[] for _ in CATEGORIES]
    for m, c in enumerate(pop.merchant_category.tolist()):
        by_cat[c].append(m)
    out: list[dict[str, Any]] = []
    for r in range(rows):
        q = (r + rnd.random()) / rows
        h = min(bisect.bisect_right(cdf_hours, q) - 1, 23)
        lo, hi = cdf_hours[h], cdf_hours[h + 1]
        seconds = (h + (q - lo) / (hi - lo)) * 3600.0
        cust = min(bisect.bisect_right(activity, rnd.random() * total), len(activity) - 1)
        card = int(pop.card_start[cust]) + int(rnd.random() * int(pop.card_count[cust]))
        if rnd.random() < 0.35:
            cat = int(pop.favourite_categories[cust, rnd.randrange(2)])
        else:
            cat = min(bisect.bisect_right(hour_cdf[h], rnd.random()), len(CATEGORIES) - 1)
        online = rnd.random() < CATEGORY_ONLINE[cat] * pop.online_affinity[cust]
        merchant = rnd.choice(by_cat[cat])
        country = int(pop.cities.country[pop.merchant_city[merchant]])
        amount_eur = (
            CATEGORY_MEDIAN_EUR[cat]
            * pop.amount_scale[cust]
            * math.exp(CATEGORY_SIGMA[cat] * rnd.gauss(0, 1))
        )
        minor = max(1, round(amount_eur * EUR_RATE[country] * 100))
        lat = float(pop.home_lat[cust]) if online else float(pop.merchant_lat[merchant])
        lon = float(pop.home_lon[cust]) if online else float(pop.merchant_lon[merchant])
        fraud = rnd.random() < 0.005
        out.append(
            {
                "transaction_id": f"{day:%Y%m%d}-{rnd.getrandbits(64):020d}",
                "event_timestamp": datetime.fromtimestamp(start + seconds, tz=UTC),
                "customer_id": customer_ids[cust],
                "card_id": card_ids[card],
                "merchant_id": merchant_ids[merchant],
                "terminal_id": f"T{rnd.getrandbits(64):020d}",
                "merchant_name": finance.company(),  # the old generator: mimesis per row
                "mcc": CATEGORIES[cat].mcc,
                "merchant_category": CATEGORIES[cat].name,
                "merchant_country": COUNTRIES[country].code,
                "amount": minor,
                "currency": COUNTRIES[country].currency,
                "amount_eur": round(minor / EUR_RATE[country] / 100, 2),
                "channel": "online" if online else rnd.choice(("chip", "contactless", "swipe")),
                "card_brand": CARD_BRANDS[int(pop.card_brand[card])],
                "card_type": CARD_TYPES[int(pop.card_type[card])],
                "latitude": round(lat, 5),
                "longitude": round(lon, 5),
                "city": address.city(),
                "country": COUNTRIES[country].code,
                "distance_from_home_km": round(
                    _haversine(float(pop.home_lat[cust]), float(pop.home_lon[cust]), lat, lon), 2
                ),
                "is_fraud": fraud,
                "fraud_scenario": rnd.choice(FRAUD_SCENARIOS) if fraud else None,
            }
        )
    return out


def write(pop: Population, day: date, rows: int, path: Path) -> int:
    frame = pl.DataFrame(generate_rows(pop, day, rows), schema=SCHEMA)
    frame.write_parquet(path, compression="zstd", compression_level=1)
    return frame.height
