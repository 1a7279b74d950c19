"""The old way, kept as a yardstick: one dict per row, mimesis called per row.

Same columns and types as the feed, written as zstd Parquet, so `make bench`
can compare throughput honestly. Not used by the job.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from mimesis import Address, Finance, Person
from mimesis.locales import Locale

from fraud_detection.schema import SCHEMA
from fraud_detection.simulator.reference import CATEGORIES, CHANNELS, FRAUD_SCENARIOS


def generate_rows(day: date, rows: int, seed: int = 42) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    person, address, finance = (
        Person(Locale.EN, seed=seed),
        Address(Locale.EN, seed=seed),
        Finance(Locale.EN, seed=seed),
    )
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out: list[dict[str, Any]] = []
    for i in range(rows):
        category = rnd.choice(CATEGORIES)
        fraud = rnd.random() < 0.005
        amount_eur = round(category.median_eur * rnd.lognormvariate(0, category.sigma), 2)
        home_lat, home_lon = float(address.latitude()), float(address.longitude())
        lat, lon = float(address.latitude()), float(address.longitude())
        person.full_name()  # the old generator drew a cardholder name per row
        out.append(
            {
                "transaction_id": f"{day:%Y%m%d}-{rnd.getrandbits(64):020d}",
                "event_timestamp": start + timedelta(seconds=rnd.uniform(0, 86_399)),
                "customer_id": f"C{rnd.randrange(400_000):020d}",
                "card_id": f"K{rnd.randrange(520_000):020d}",
                "merchant_id": f"M{rnd.randrange(40_000):020d}",
                "terminal_id": f"T{rnd.randrange(90_000):020d}",
                "merchant_name": finance.company(),
                "mcc": category.mcc,
                "merchant_category": category.name,
                "merchant_country": address.country_code(),
                "amount": max(1, int(amount_eur * 100)),
                "currency": finance.currency_iso_code(),
                "amount_eur": amount_eur,
                "channel": rnd.choice(CHANNELS),
                "card_brand": rnd.choice(("visa", "mastercard", "amex")),
                "card_type": rnd.choice(("debit", "credit", "prepaid")),
                "latitude": lat,
                "longitude": lon,
                "city": address.city(),
                "country": address.country_code(),
                "distance_from_home_km": abs(lat - home_lat) * 111.0 + abs(lon - home_lon) * 70.0,
                "is_fraud": fraud,
                "fraud_scenario": rnd.choice(FRAUD_SCENARIOS) if fraud else None,
            }
        )
        del i
    return out


def write(day: date, rows: int, path: Path) -> int:
    frame = pl.DataFrame(generate_rows(day, rows), schema=SCHEMA)
    frame.write_parquet(path, compression="zstd")
    return frame.height
