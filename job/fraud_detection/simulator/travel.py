"""Trips: customers away from home for several days, without impossible jumps.

Trips that *start* on day s are a pure function of (seed, s); day D looks back over
the longest trip, like the compromise windows. On the way out and back a traveller
spends two hours in transit and pays nothing in person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from fraud_detection.simulator.population import Population
from fraud_detection.simulator.seeding import rng
from fraud_detection.simulator.timeline import day_shape

TRIP_NIGHTS = (2, 10)
DOMESTIC_TRIPS = 0.45
TRANSIT_S = 7_200.0


@dataclass(frozen=True)
class Trips:
    """For one day: which customers are on a trip (slot), and where and when they are away."""

    slot: np.ndarray  # per customer: index into the arrays below, -1 when home all day
    city: np.ndarray  # per trip: the destination city
    away_from: np.ndarray  # per trip: seconds [away_from, away_until) spent at the destination
    away_until: np.ndarray
    transit_from: np.ndarray  # per trip: seconds [transit_from, transit_until) on the way
    transit_until: np.ndarray

    def away(self, customer: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """The destination city of each payer who is away at that second, else -1."""
        out = np.full(len(customer), -1, dtype=np.int64)
        slot = self.slot[customer]
        on_trip = np.flatnonzero(slot >= 0)  # a few per cent: look only at those
        s, t = slot[on_trip], seconds[on_trip]
        at = (self.away_from[s] <= t) & (t < self.away_until[s])
        out[on_trip[at]] = self.city[s[at]]
        return out

    def in_transit(self, customer: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        slot = self.slot[customer]
        on_trip = np.flatnonzero(slot >= 0)
        s, t = slot[on_trip], seconds[on_trip]
        out = np.zeros(len(customer), dtype=bool)
        out[on_trip] = (self.transit_from[s] <= t) & (t < self.transit_until[s])
        return out


def trips_on(pop: Population, seed: int, day: date) -> Trips:
    n = pop.n_customers
    city = np.full(n, -1, dtype=np.int32)
    away_from = np.zeros(n, dtype=np.float32)
    away_until = np.zeros(n, dtype=np.float32)
    transit_from = np.zeros(n, dtype=np.float32)
    transit_until = np.zeros(n, dtype=np.float32)
    for back in range(TRIP_NIGHTS[1], -1, -1):  # oldest first: a newer trip wins
        start = day - timedelta(days=back)
        g = rng(seed, "trips", start)
        k = g.poisson(day_shape(start).trip_rate * n)
        who = g.integers(0, n, k)
        nights = g.integers(TRIP_NIGHTS[0], TRIP_NIGHTS[1] + 1, k)
        domestic = g.random(k) < DOMESTIC_TRIPS
        near = pop.cities_by_country.pick(pop.home_country[who], g.random(k))
        anywhere = pop.cities.table.draw(g.random(k))
        dest = np.where(domestic & (near >= 0), near, anywhere)
        depart = g.uniform(5 * 3600, 19 * 3600, k)
        back_home = g.uniform(8 * 3600, 21 * 3600, k)
        live = np.flatnonzero(nights >= back)  # back == nights: the day they return
        who, nights, dest = who[live], nights[live], dest[live]
        depart, back_home = depart[live], back_home[live]
        first, last = back == 0, nights == back  # departure day; return day (per trip)
        city[who] = dest
        away_from[who] = np.where(first, depart + TRANSIT_S, 0.0)
        away_until[who] = np.where(last, back_home, 86_400.0)
        transit_from[who] = np.where(first, depart, np.where(last, back_home, 0.0))
        transit_until[who] = np.where(
            first, depart + TRANSIT_S, np.where(last, back_home + TRANSIT_S, 0.0)
        )
    travellers = np.flatnonzero(city >= 0)
    slot = np.full(n, -1, dtype=np.int32)
    slot[travellers] = np.arange(len(travellers), dtype=np.int32)
    return Trips(
        slot=slot,
        city=city[travellers],
        away_from=away_from[travellers],
        away_until=away_until[travellers],
        transit_from=transit_from[travellers],
        transit_until=transit_until[travellers],
    )
