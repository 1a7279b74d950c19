"""One day of payments: blocks, slices and the public `generate_dataset`."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import polars as pl
from polars.io.plugins import register_io_source

from fraud_detection.schema import SCHEMA
from fraud_detection.simulator.cards import Lifecycle
from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.episodes import Regime, lifecycle
from fraud_detection.simulator.frame import to_frame
from fraud_detection.simulator.fraud import FraudPlan, inject, plan_day
from fraud_detection.simulator.labels import reports_on
from fraud_detection.simulator.population import Groups, PopulationSizes
from fraud_detection.simulator.portfolio import Portfolio, portfolio_for
from fraud_detection.simulator.profiles import DEFAULT_PROFILE, PROFILES
from fraud_detection.simulator.transactions import legit_block
from fraud_detection.simulator.travel import Trips, trips_on

DEFAULT_SEED = 42
DEFAULT_FRAUD_RATE = 0.005
MIN_BLOCK_ROWS = 1_000
MAX_BLOCK_ROWS = 131_072
BLOCKS_PER_DAY = 8  # fewer, larger blocks: less per-call overhead in polars
AHEAD = 2  # blocks generated ahead, each on its own worker thread


@dataclass(frozen=True)
class Shard:
    """Slice `index` of `count`: a contiguous run of whole blocks of the day."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (self.count >= 1 and 0 <= self.index < self.count):
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= index < count")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class DaySpec:
    """Everything the rows of a day are a function of."""

    day: date
    rows: int
    seed: int = DEFAULT_SEED
    fraud_rate: float = DEFAULT_FRAUD_RATE
    population: PopulationSizes = field(default_factory=PopulationSizes)
    profile: str = DEFAULT_PROFILE  # a key of PROFILES: the fraud mix

    @property
    def regime(self) -> Regime:
        return Regime(self.seed, self.population, self.rows, self.fraud_rate, self.profile)

    @property
    def block_rows(self) -> int:
        # Depends on `rows` only, never on the slicing, so slices union to the day.
        return min(max(-(-self.rows // BLOCKS_PER_DAY), MIN_BLOCK_ROWS), MAX_BLOCK_ROWS)

    @property
    def n_blocks(self) -> int:
        return -(-self.rows // self.block_rows)

    def blocks(self, shard: Shard) -> range:
        first = shard.index * self.n_blocks // shard.count
        last = (shard.index + 1) * self.n_blocks // shard.count
        return range(first, last)

    def block_bounds(self, block: int) -> tuple[int, int]:
        start = block * self.block_rows
        return start, min(start + self.block_rows, self.rows)

    def shard_rows(self, shard: Shard) -> int:
        blocks = self.blocks(shard)
        if not blocks:
            return 0
        return self.block_bounds(blocks[-1])[1] - self.block_bounds(blocks[0])[0]


@dataclass(frozen=True)
class DayWorld:
    """What every block of a day shares: who is covered and pays, cards, trips."""

    portfolio: Portfolio
    payers: Groups
    life: Lifecycle
    trips: Trips
    clock: DayClock


@lru_cache(maxsize=4)
def world_for(spec: DaySpec) -> DayWorld:
    pf = portfolio_for(spec.seed, spec.population, spec.rows)
    return DayWorld(
        portfolio=pf,
        payers=pf.payers(spec.day),
        life=lifecycle(spec.regime, spec.day),
        trips=trips_on(pf.pop, spec.seed, spec.day),
        clock=DayClock.for_day(spec.day, spec.rows),
    )


@lru_cache(maxsize=4)
def _plan_for(spec: DaySpec) -> FraudPlan:
    w = world_for(spec)
    return plan_day(spec.regime, w.portfolio, w.life, w.clock)


def iter_blocks(
    spec: DaySpec,
    shard: Shard = Shard(),
    *,
    prefetch: bool = True,
) -> Iterator[pl.DataFrame]:
    """The slice's rows block by block, in row (and so time) order."""
    w = world_for(spec)

    def make(block: int, plan: Callable[[], FraudPlan]) -> pl.DataFrame:
        start, stop = spec.block_bounds(block)
        legit = legit_block(w.portfolio, w.payers, w.life, w.clock, w.trips, block, start, stop)
        return to_frame(w.portfolio.pop, w.clock, spec.seed, inject(legit, plan()))

    blocks = list(spec.blocks(shard))
    if not prefetch or len(blocks) < 2:
        plan = _plan_for(spec)
        yield from (make(b, lambda: plan) for b in blocks)
        return
    # Blocks ahead on worker threads: numpy and polars release the GIL, so the next blocks
    # are generated while this one is validated and encoded. Blocks are independent, so
    # the rows are the same either way; results are taken in block order. The fraud plan
    # is drawn beside the first block's legit payments, which do not need it.
    with ThreadPoolExecutor(max_workers=AHEAD, thread_name_prefix="next-block") as pool:
        planned = pool.submit(_plan_for, spec)
        pending = deque(pool.submit(make, b, planned.result) for b in blocks[:AHEAD])
        try:
            for block in blocks[AHEAD:]:
                frame = pending.popleft().result()
                pending.append(pool.submit(make, block, planned.result))
                yield frame
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def generate_dataset(
    day: date,
    rows: int,
    *,
    seed: int = DEFAULT_SEED,
    fraud_rate: float | None = None,
    population: PopulationSizes | None = None,
    shard: Shard | None = None,
    profile: str = DEFAULT_PROFILE,
) -> pl.LazyFrame:
    """One day of labelled payments as a streaming LazyFrame.

    Rows are a pure function of (seed, day, rows, fraud_rate, population): the same
    arguments give the same rows on every machine and run. `shard` selects one of K
    independent slices whose union is exactly the unsharded day. Nothing is
    generated until the frame is collected or sunk (e.g. `.sink_parquet(...)`),
    and then block by block, so memory stays flat as `rows` grows.
    """
    rate = PROFILES[profile].fraud_rate if fraud_rate is None else fraud_rate
    spec = DaySpec(day, rows, seed, rate, population or PopulationSizes(), profile)
    return lazy_blocks(spec, shard or Shard())


def reports_frame(spec: DaySpec) -> pl.DataFrame:
    """The labels feed's day: fraud reports made on `spec.day` (schema REPORT_SCHEMA).

    Small (a few thousand rows at most) and a function of the same inputs as the day.
    """
    return reports_on(spec.regime, spec.day)


def lazy_blocks(spec: DaySpec, shard: Shard) -> pl.LazyFrame:
    """The slice as a LazyFrame whose source pulls `iter_blocks` on demand."""

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        produced = 0
        for out in iter_blocks(spec, shard):
            if predicate is not None:
                out = out.filter(predicate)
            if with_columns is not None:
                out = out.select(with_columns)
            if n_rows is not None:
                out = out.head(n_rows - produced)
            produced += len(out)
            yield out
            if n_rows is not None and produced >= n_rows:
                return

    return register_io_source(io_source=source, schema=SCHEMA)
