"""The part of the world a feed of `rows` payments a day covers, and who pays on a day.

Per-card rates (payments, fraud episodes) are fixed: `--rows` sets how many customers
the feed covers, not how busy each one is. A feed of the default size covers everyone;
a smaller one covers a stable, seeded share of the households (the same ones every
day), so a 300 k-row feed is a smaller portfolio behaving exactly like the full one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache

import numpy as np

from fraud_detection.simulator.population import (
    Groups,
    Population,
    PopulationSizes,
    build_population,
)
from fraud_detection.simulator.reference import CARD_TYPE_RISK, N_COUNTRIES
from fraud_detection.simulator.sampling import GuideTable
from fraud_detection.simulator.seeding import mix64, rng, salt_for

# A covered customer pays this often on an average day (about one payment every two
# days per card, as real portfolios). A feed of more rows than the whole population
# makes at this pace (300 k a day for the default 400 k customers) covers everyone and
# makes every card busier, fraud and legit alike: give it a larger `--customers` to
# keep the pace.
PAYMENTS_PER_CUSTOMER_DAY = 0.75
# How a card's use raises its chance of being compromised (weight = activity ** this).
EXPOSURE_POWER = 0.7
# Day-to-day activity of one customer: a gamma shock of mean 1 (the lower the shape, the
# more quiet days and busy ones), so a card's daily count is overdispersed, as real
# ones are: a busy day's run of payments is not fraud's alone.
DAY_ACTIVITY_SHAPE = 2.0
DISPUTER_SHARE = 0.03  # customers who dispute genuine purchases: some do it repeatedly


def unit(seed: int, what: str, values: np.ndarray) -> np.ndarray:
    """A uniform in [0, 1) fixed for each value: stable per entity, no stream to replay."""
    return (mix64(values.astype(np.uint64), salt_for(seed, what)) >> np.uint64(11)) * (
        1.0 / (1 << 53)
    )


@dataclass(frozen=True)
class Portfolio:
    pop: Population
    rows: int

    @cached_property
    def coverage(self) -> float:
        return min(1.0, self.rows / (PAYMENTS_PER_CUSTOMER_DAY * self.pop.n_customers))

    @cached_property
    def covered(self) -> np.ndarray:
        """Per customer: inside this feed (households are in or out together)."""
        head = self.pop.household_head
        return unit(self.pop.seed, "coverage", head) < self.coverage

    @cached_property
    def in_household(self) -> np.ndarray:
        """Per customer: shares a home with another customer."""
        head = self.pop.household_head
        has_partner = np.zeros(len(head), dtype=bool)
        has_partner[head[head != np.arange(len(head))]] = True
        return has_partner | (head != np.arange(len(head)))

    @cached_property
    def n_covered_cards(self) -> int:
        return int(self.covered[self.pop.card_customer].sum())

    @cached_property
    def payments_per_card_day(self) -> float:
        return self.rows / max(self.n_covered_cards, 1)

    @cached_property
    def card_risk(self) -> GuideTable:
        """Covered card slots weighted by how often fraudsters get hold of them: by card
        type, and by use (a card used at more shops is exposed to more breaches)."""
        pop = self.pop
        exposure = (pop.activity_weight**EXPOSURE_POWER)[pop.card_customer]  # per customer
        weight = CARD_TYPE_RISK[pop.card_type] * exposure * self.covered[pop.card_customer]
        return GuideTable(np.cumsum(weight), buckets_per_entry=1)

    def live(self, day: date) -> np.ndarray:
        """Per customer: covered, with an account open on `day`."""
        return self.covered & (self.pop.account_opened <= day.toordinal())

    @cached_property
    def disputers(self) -> np.ndarray:
        """The covered customers who dispute genuine purchases at all (friendly fraud)."""
        everyone = np.arange(self.pop.n_customers)
        share = unit(self.pop.seed, "disputer", everyone) < DISPUTER_SHARE
        return np.flatnonzero(self.covered & share)

    def payers(self, day: date) -> Groups:
        """Covered customers by home country, weighted by how much each pays on `day`."""
        pop = self.pop
        shock = rng(pop.seed, "day-activity", day).gamma(
            DAY_ACTIVITY_SHAPE, 1.0 / DAY_ACTIVITY_SHAPE, pop.n_customers
        )
        weight = pop.activity_weight * shock * self.live(day)
        return Groups.build(pop.home_country, N_COUNTRIES, weight)


@lru_cache(maxsize=4)
def population_for(seed: int, sizes: PopulationSizes) -> Population:
    """Built once per process and reused by every block and day."""
    return build_population(seed, sizes)


@lru_cache(maxsize=4)
def portfolio_for(seed: int, sizes: PopulationSizes, rows: int) -> Portfolio:
    return Portfolio(population_for(seed, sizes), rows)
