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
    """Per customer, for one day: where they are away, and when."""

    city: np.ndarray  # destination city, -1 when home all day
    away_from: np.ndarray  # seconds of the day [away_from, away_until) spent at the destination
    away_until: np.ndarray
    transit_from: np.ndarray  # seconds of the day [transit_from, transit_until) on the way
    transit_until: np.ndarray

    def away(self, customer: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        city = self.city[customer]
        at = (self.away_from[customer] <= seconds) & (seconds < self.away_until[customer])
        return np.where(at & (city >= 0), city, -1)

    def in_transit(self, customer: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        return (self.transit_from[customer] <= seconds) & (seconds < self.transit_until[customer])


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
    return Trips(city, away_from, away_until, transit_from, transit_until)
