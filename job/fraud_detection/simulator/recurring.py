"""Subscriptions: the same merchant charges the same card about the same amount monthly.

Who subscribes, to what, for how much and on which day of the month is a fixed
function of (seed, customer), so day D knows its renewals without looking back.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.portfolio import Portfolio
from fraud_detection.simulator.reference import CATEGORIES, E_ON_FILE, ONLINE
from fraud_detection.simulator.seeding import mix64, rng, salt_for
from fraud_detection.simulator.transactions import (
    Draft,
    customer_devices,
    ip_location,
    pick_merchant,
)

SUBSCRIBER_SHARE = 0.4
PRICES_EUR = np.array([4.99, 7.99, 9.99, 12.99, 17.99])
_STREAMING = [i for i, c in enumerate(CATEGORIES) if c.mcc in ("4899", "5815")]


def _unit(seed: int, what: str, customer: np.ndarray) -> np.ndarray:
    return (
        mix64(customer.astype(np.uint64), salt_for(seed, "subscription", what)) >> np.uint64(11)
    ) * (1.0 / (1 << 53))


@lru_cache(maxsize=4)
def _subscribers(seed: int, n_customers: int) -> tuple[np.ndarray, np.ndarray]:
    """(customer, day of the month) of everyone who subscribes, in customer order."""
    everyone = np.arange(n_customers)
    who = np.flatnonzero(_unit(seed, "who", everyone) < SUBSCRIBER_SHARE)
    return who, 1 + (_unit(seed, "day", who) * 28).astype(np.int64)


def renewals(pf: Portfolio, clock: DayClock) -> Draft:
    """The day's subscription charges, placed at random rows of the day."""
    pop, seed = pf.pop, pf.pop.seed
    who, day_of_month = _subscribers(seed, pop.n_customers)
    # Only the feed's own customers (the same ones every month).
    customer = who[day_of_month == clock.day.day]
    customer = customer[pf.live(clock.day)[customer]]
    n = len(customer)
    g = rng(seed, "subscription-rows", clock.day, clock.rows)
    d = Draft.empty(n)
    d.row = g.integers(0, clock.rows, n)
    d.customer = customer
    d.card = pop.card_start[customer]
    d.category = np.asarray(_STREAMING)[
        (_unit(seed, "what", customer) * len(_STREAMING)).astype(np.int64)
    ]
    online = np.ones(n, dtype=bool)
    country = pop.home_country[customer]
    home = pop.home_city[customer].astype(np.int64)
    d.merchant = pick_merchant(
        pop, d.category, home, online, _unit(seed, "merchant", customer), online_country=country
    )
    d.terminal = pop.terminal_start[d.merchant]
    d.channel[:] = ONLINE
    d.amount_eur = PRICES_EUR[(_unit(seed, "price", customer) * len(PRICES_EUR)).astype(np.int64)]
    d.loc_city, d.loc_lat, d.loc_lon = ip_location(pop, g, home, 0.0, 0.0)
    d.scenario[:] = -1
    d.entry[:] = E_ON_FILE  # merchant-initiated, card on file: no SCA
    d.device = customer_devices(seed, customer, np.zeros(n))  # their first device
    return d
