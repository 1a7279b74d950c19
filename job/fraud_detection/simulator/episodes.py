"""Fraud as episodes on a card's life: a deterministic schedule, rendered day by day.

An episode is one fraud case on one card slot: compromise, sometimes a test, a run of
attempts over hours or days, then detection (an issuer alert, the cardholder noticing,
or the monthly statement), a block, a few declined attempts on the blocked card, and a
new plastic some days later. Some episodes are never detected.

Episodes that *start* in a calendar month are a pure function of (regime, month): their
headers (victim, start, detection, report) come from one stream and their attempts from
another, so day D renders the attempts of the episodes that overlap it, the card
lifecycle looks back over the headers only, and the labels feed finds the cases reported
on D without building any payment. Rates are per covered card and day: `--rows` changes
how many cards a feed covers, never how often each one is attacked.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import date, timedelta
from functools import cached_property, lru_cache

import numpy as np

from fraud_detection.schema import FRAUD_SCENARIOS
from fraud_detection.simulator.cards import (
    CARD_VALIDITY_DAYS,
    DAY_S,
    T0,
    Lifecycle,
    issued_slot_on,
)
from fraud_detection.simulator.population import PopulationSizes
from fraud_detection.simulator.portfolio import portfolio_for
from fraud_detection.simulator.profiles import PROFILES
from fraud_detection.simulator.reference import WEEK_INTENSITY
from fraud_detection.simulator.seeding import rng
from fraud_detection.simulator.timeline import (
    CAMPAIGN_CLIP,
    CAMPAIGN_DAYS,
    CAMPAIGN_SHAPE,
    scenario_drift,
    tactics,
)

TERMINAL, CARD, TESTING, TAKEOVER, LOST = range(len(FRAUD_SCENARIOS))
N_SCENARIOS = len(FRAUD_SCENARIOS)
EPISODE_DAYS = 21  # attempts later than this after the start are never made

# Per scenario (FRAUD_SCENARIOS order). Attempts: a base plus a Poisson number more.
BASE_ATTEMPTS = np.array([2, 2, 2, 1, 2])
EXTRA_ATTEMPTS = np.array([3.0, 2.5, 3.0, 2.5, 3.0])
MEAN_GAP_S = np.array([14_400.0, 18_000.0, 45.0, 5_400.0, 3_600.0])
SLEEP = np.array([0.6, 0.6, 0.0, 0.3, 0.7])  # night attempts put off until the morning
# Expected fraud rows an episode leaves (attempts before the block, a few after it):
# turns the profile's fraud rate (per payment) into an episode rate (per card and day).
ROWS_PER_EPISODE = 4.1
TEST_PASS_SHARE = 0.5  # tested cards that are live: cashed out 1–4 days later
CASHOUT_ATTEMPTS = (2, 3.0)  # base, Poisson extra
# How an episode ends: P(issuer alert), P(cardholder notices soon), P(never detected);
# the rest is found on the monthly statement.
P_ALERT = np.array([0.30, 0.30, 0.30, 0.25, 0.15])
P_NOTICE = np.array([0.10, 0.10, 0.05, 0.35, 0.70])
P_NEVER = np.array([0.04, 0.05, 0.05, 0.03, 0.03])
P_NEVER_DEAD_TEST = 0.85  # tests on dead cards mostly go unnoticed
# How an episode ends, as thresholds on one uniform per kind of case (the scenarios,
# then a test on a dead card): an alert below the first, a notice below the second, the
# statement below the third, never detected above. Made non-decreasing, so the number of
# thresholds the uniform reaches is the first outcome that applies (ALERT ... NEVER).
_DEAD_TEST = N_SCENARIOS
_ALERT_BELOW = np.append(P_ALERT, P_ALERT[TESTING])
_NOTICE_BELOW = np.maximum(_ALERT_BELOW, _ALERT_BELOW + np.append(P_NOTICE, P_NOTICE[TESTING]))
_STATEMENT_BELOW = np.maximum(_NOTICE_BELOW, 1.0 - np.append(P_NEVER, P_NEVER_DEAD_TEST))
ALERT_MEAN_S = 6 * 3600.0
NOTICE_MEAN_S = np.array([30.0, 30.0, 30.0, 20.0, 8.0]) * 3600.0
STATEMENT_DAYS = (5, 45)
REISSUE_DAYS = (2, 7)
# Case processing before the report lands (business days): an investigated alert is
# confirmed fast; a disputed statement line takes weeks, with a long tail.
FAST_LANE_DAYS = (2, 5)
CASE_MEDIAN_DAYS = 20.0
CASE_SIGMA = 1.1
REPORT_HORIZON_DAYS = 120
ALERT, NOTICE, STATEMENT, NEVER = range(4)


@dataclass(frozen=True)
class Regime:
    """What fraud schedules are a function of, besides the month: one feed's settings."""

    seed: int
    population: PopulationSizes
    rows: int
    fraud_rate: float
    profile: str

    @cached_property
    def episode_rate(self) -> float:
        """Episodes per covered card and day on the anchor date (per card, so the same
        for any `rows` until the feed covers the whole population)."""
        pf = portfolio_for(self.seed, self.population, self.rows)
        return self.fraud_rate * pf.payments_per_card_day / ROWS_PER_EPISODE


@dataclass(frozen=True)
class Episodes:
    """One entry per episode, in the order they were drawn."""

    key: np.ndarray  # month * 2^20 + index: the case's identity
    scenario: np.ndarray
    slot: np.ndarray
    start: np.ndarray  # absolute seconds
    detection: np.ndarray  # ALERT, NOTICE, STATEMENT or NEVER
    block: np.ndarray  # absolute seconds; inf when never detected
    reissue: np.ndarray
    report_day: np.ndarray  # day ordinal of the case's report; 0 when never reported
    passed: np.ndarray  # card testing: the card was live

    def take(self, idx: np.ndarray) -> Episodes:
        return Episodes(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Episodes]) -> Episodes:
        return Episodes(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(Episodes)
            }
        )


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_days(month: int) -> list[date]:
    y, m = divmod(month, 12)
    first = date(y, m + 1, 1)
    nxt = date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1)
    return [first + timedelta(days=i) for i in range((nxt - first).days)]


@lru_cache(maxsize=64)
def _shocks(seed: int, month: int) -> np.ndarray:
    days = len(_month_days(month))
    g = rng(seed, "campaign", month)
    return g.gamma(CAMPAIGN_SHAPE, 1.0 / CAMPAIGN_SHAPE, (days, N_SCENARIOS))


def campaigns(seed: int, month: int) -> np.ndarray:
    """(days, scenarios): overdispersed volume, mean 1, each shock lasting a few days."""
    here = _shocks(seed, month)
    before = _shocks(seed, month - 1)[-(CAMPAIGN_DAYS - 1) :]
    both = np.concatenate([before, here])
    rolled = sum(both[k : k + len(here)] for k in range(CAMPAIGN_DAYS)) / CAMPAIGN_DAYS
    return np.clip(rolled, *CAMPAIGN_CLIP)


@lru_cache(maxsize=7)
def _start_cdf(weekday: int) -> np.ndarray:
    # Central European clock (UTC+1): where most of the portfolio lives.
    hours = np.roll(WEEK_INTENSITY[weekday], -1)
    return np.concatenate([[0.0], np.cumsum(hours) / hours.sum()])


_HOUR_EDGES = np.arange(25) * 3600.0
_START_BUCKETS = 1024  # a power of two: u * buckets is exact, so is a bucket's edge


@dataclass(frozen=True)
class _StartTable:
    """np.interp(u, _start_cdf(weekday), _HOUR_EDGES) for the seven weekdays at once.

    One row of 26 per weekday: the 25 knots and an inf that stops the search; the
    slopes as np.interp computes them, and 0 from the last knot on, where np.interp
    gives the last edge; per bucket of u, the knot at or before the bucket's edge."""

    cdf: np.ndarray  # (7 * 26,)
    slope: np.ndarray  # (7 * 26,)
    edge: np.ndarray  # (7 * 26,)
    guide: np.ndarray  # (7, buckets): flat index of the knot where the search starts

    @staticmethod
    @lru_cache(maxsize=1)
    def build() -> _StartTable:
        cdf = np.stack([np.append(_start_cdf(wd), np.inf) for wd in range(7)])
        slope = np.zeros_like(cdf)
        slope[:, :24] = np.diff(_HOUR_EDGES) / np.diff(cdf[:, :25], axis=1)
        edge = np.append(_HOUR_EDGES, _HOUR_EDGES[-1])
        bucket_edges = np.arange(_START_BUCKETS) / _START_BUCKETS
        guide = np.stack(
            [wd * 26 + np.searchsorted(cdf[wd], bucket_edges, side="right") - 1 for wd in range(7)]
        )
        return _StartTable(cdf.ravel(), slope.ravel(), np.tile(edge, 7), guide)

    def seconds(self, weekday: np.ndarray, u: np.ndarray) -> np.ndarray:
        at = self.guide[weekday, (u * _START_BUCKETS).astype(np.int64)]
        # Step to the last knot <= u: a bucket rarely holds a knot, never the inf.
        behind = np.flatnonzero(self.cdf[at + 1] <= u)
        while len(behind):
            at[behind] += 1
            behind = behind[self.cdf[at[behind] + 1] <= u[behind]]
        return self.slope[at] * (u - self.cdf[at]) + self.edge[at]


def _start_seconds(days: list[date], per_day: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Second of the day each episode starts, from uniforms, by its day's weekly rhythm."""
    weekday = np.repeat([d.weekday() for d in days], per_day)
    return _StartTable.build().seconds(weekday, u)


def _business_day(ordinal: np.ndarray) -> np.ndarray:
    """Moved to Monday when it falls on a weekend (case teams work weekdays)."""
    weekday = (ordinal - 1) % 7  # date.fromordinal(1) is a Monday
    return ordinal + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))


@dataclass(frozen=True)
class _Headers:
    """A month's episodes up to the block and reissue: all the card lifecycle needs."""

    scenario: np.ndarray
    slot: np.ndarray
    start: np.ndarray
    detection: np.ndarray
    block: np.ndarray
    reissue: np.ndarray
    passed: np.ndarray
    first_day: np.ndarray  # day ordinal of the start
    kept: np.ndarray  # the episodes whose victim had an account at the start


def _headers(reg: Regime, month: int) -> _Headers:
    profile = PROFILES[reg.profile]
    portfolio = portfolio_for(reg.seed, reg.population, reg.rows)
    days = _month_days(month)

    def g(what: str) -> np.random.Generator:  # one keyed stream per attribute
        return rng(reg.seed, "episodes", what, month)

    drift = np.stack([scenario_drift(d) for d in days])  # (days, scenarios)
    base = reg.episode_rate * portfolio.n_covered_cards * profile.shares
    counts = g("count").poisson(base[None, :] * drift * campaigns(reg.seed, month))
    n = int(counts.sum())
    per_day = counts.sum(axis=1)
    # In the order drawn: by day, then by scenario.
    scenario = np.repeat(np.tile(np.arange(N_SCENARIOS, dtype=np.int8), len(days)), counts.ravel())
    start = _start_seconds(days, per_day, g("start").random(n))
    t = g("night").random((2, n))
    ato_night = np.flatnonzero((scenario == TAKEOVER) & (t[0] < tactics(days[0]).takeover_night))
    start[ato_night] = (t[1, ato_night] * 5 - 1) % 24 * 3600.0
    ordinal = days[0].toordinal() + np.arange(len(days))
    start += np.repeat((ordinal - T0) * float(DAY_S), per_day)
    # = cards.day_ordinal(start) without a float division: a start is on its day, or
    # rounded up to the next midnight.
    next_midnight = np.repeat((ordinal + 1 - T0) * float(DAY_S), per_day)
    first_day = np.repeat(ordinal, per_day) + (start >= next_midnight)
    # The victim's card as it is at the start: a slot not issued yet means their first card.
    pop = portfolio.pop
    slot = issued_slot_on(pop, portfolio.card_risk.draw(g("victim").random(n)), first_day)
    victim = pop.card_customer[slot]
    passed = (scenario == TESTING) & (g("live").random(n) < TEST_PASS_SHARE)

    u = g("detection").random(n)
    kind = scenario.copy()
    kind[(scenario == TESTING) & ~passed] = _DEAD_TEST
    detection = (
        (u >= _ALERT_BELOW[kind]).view(np.int8)
        + (u >= _NOTICE_BELOW[kind]).view(np.int8)
        + (u >= _STATEMENT_BELOW[kind]).view(np.int8)
    )  # ALERT, NOTICE, STATEMENT or NEVER
    when = g("detected")
    # exponential(scale) is scale * a standard draw, the same values without numpy's
    # call per draw (for a scalar scale too).
    alert = 600.0 + ALERT_MEAN_S * when.standard_exponential(n)
    # = when.exponential(NOTICE_MEAN_S[scenario]), which is scale * a standard draw, but
    # without numpy's slow path for a scale per draw.
    notice = 1800.0 + NOTICE_MEAN_S[scenario] * when.standard_exponential(n)
    statement = when.uniform(*STATEMENT_DAYS, n) * DAY_S
    delay = np.where(detection == ALERT, alert, np.where(detection == NOTICE, notice, statement))
    # Live tests are found with their cash-out, which comes days after the test.
    live = np.flatnonzero(passed)
    delay[live] += when.uniform(1, 4, n)[live] * DAY_S
    block = np.where(detection == NEVER, np.inf, start + delay)
    reissue = block + g("reissue").uniform(*REISSUE_DAYS, n) * DAY_S
    # An account opened after the start has no card to steal yet.
    kept = np.flatnonzero(pop.account_opened[victim] <= first_day)
    return _Headers(scenario, slot, start, detection, block, reissue, passed, first_day, kept)


@lru_cache(maxsize=12)  # the labels' window (about five months) and the day's
def month_episodes(reg: Regime, month: int) -> Episodes:
    """Every episode that starts in `month`."""
    h = _headers(reg, month)
    n, detection, block = len(h.scenario), h.detection, h.block
    case = rng(reg.seed, "episodes", "case", month)
    fast = case.integers(FAST_LANE_DAYS[0], FAST_LANE_DAYS[1] + 1, n)
    slow = np.ceil(CASE_MEDIAN_DAYS * np.exp(CASE_SIGMA * case.standard_normal(n)))
    processing = np.where(detection == ALERT, fast, np.maximum(slow, 2)).astype(np.int64)
    finite = np.where(np.isfinite(block), block, 0.0)
    reported = _business_day(np.floor_divide(finite, DAY_S).astype(np.int64) + T0 + processing)
    in_time = reported - h.first_day <= REPORT_HORIZON_DAYS
    report_day = np.where((detection != NEVER) & in_time, reported, 0)
    episodes = Episodes(
        key=month * (1 << 20) + np.arange(n, dtype=np.int64),
        scenario=h.scenario,
        slot=h.slot,
        start=h.start,
        detection=detection,
        block=block,
        reissue=h.reissue,
        report_day=report_day,
        passed=h.passed,
    )
    return episodes.take(h.kept)


def _blocks(reg: Regime, month: int, recent: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slot, block, reissue) of a month's episodes that blocked a card. Older months are
    drawn only up to their blocks (no cases), and only these three columns are kept."""
    if recent:
        eps = month_episodes(reg, month)
        blocked = np.flatnonzero(np.isfinite(eps.block))
        return eps.slot[blocked], eps.block[blocked], eps.reissue[blocked]
    h = _headers(reg, month)
    blocked = h.kept[np.isfinite(h.block[h.kept])]
    return h.slot[blocked], h.block[blocked], h.reissue[blocked]


@lru_cache(maxsize=8)
def lifecycle(reg: Regime, day: date) -> Lifecycle:
    """Blocks and reissues that can matter on `day`: the last validity cycle's worth."""
    first = day - timedelta(days=CARD_VALIDITY_DAYS + EPISODE_DAYS)
    months = range(month_index(first), month_index(day) + 1)
    recent = month_index(day - timedelta(days=EPISODE_DAYS))
    # About three years of months: numpy releases the GIL, so two threads draw them.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="episodes") as pool:
        parts = list(pool.map(lambda m: _blocks(reg, m, m >= recent), months))
    n_slots = portfolio_for(reg.seed, reg.population, reg.rows).pop.n_cards
    slot, block, reissue = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return Lifecycle.build(n_slots, slot, block, reissue)


# Uniforms and normals each attempt carries, drawn once with its episode's month so
# that every day renders an attempt the same way.
DRAWS = ("channel", "category", "tilt", "tilt-pick", "city", "region", "abroad", "place",
         "merchant", "terminal", "amount", "entry", "wallet", "sca", "sca-pass", "decline",
         "code", "device", "victim-device", "regular", "regular-which")  # fmt: skip


@dataclass(frozen=True)
class Attempts:
    """One entry per fraud attempt, in episode then time order."""

    episode: np.ndarray  # index into the Episodes they come with
    seq: np.ndarray  # 0, 1, … within the episode
    scenario: np.ndarray  # the attempt's own label (a live test's cash-out: compromised_card)
    time: np.ndarray  # absolute seconds
    after_block: np.ndarray  # bool: tried on the blocked card (declined)
    u: np.ndarray  # (len(DRAWS), attempts) uniforms; row "amount" is a standard normal

    def take(self, idx: np.ndarray) -> Attempts:
        picked = {f.name: getattr(self, f.name)[idx] for f in fields(self) if f.name != "u"}
        return Attempts(**picked, u=self.u[:, idx])

    def draw(self, name: str) -> np.ndarray:
        return self.u[DRAWS.index(name)]


@lru_cache(maxsize=8)
def month_attempts(reg: Regime, month: int) -> Attempts:
    eps = month_episodes(reg, month)
    n = len(eps.key)

    def g(what: str) -> np.random.Generator:
        return rng(reg.seed, "attempts", what, month)

    sc = eps.scenario.astype(np.int64)
    tests = BASE_ATTEMPTS[sc] + g("count").poisson(EXTRA_ATTEMPTS[sc])
    cash = np.where(eps.passed, CASHOUT_ATTEMPTS[0] + g("cash").poisson(CASHOUT_ATTEMPTS[1], n), 0)
    # Live cards are tested briefly (one to three charges) before the cash-out.
    tests = np.where(eps.passed, 1 + g("tests").integers(0, 3, n), tests)
    per = tests + cash
    episode = np.repeat(np.arange(n), per)
    first = np.cumsum(per) - per
    seq = np.arange(len(episode)) - first[episode]
    cashout = seq >= tests[episode]
    gaps = g("gap")
    gap = gaps.standard_exponential(len(episode)) * np.where(
        cashout, 7_200.0, MEAN_GAP_S[sc[episode]]
    )
    first_cash = cashout & (seq == tests[episode])
    gap = np.where(first_cash, gaps.uniform(1, 4, len(episode)) * DAY_S, gap)
    gap[first] = 0.0
    elapsed = np.cumsum(gap)
    elapsed -= np.repeat(elapsed[first], per)
    # People keep hours, bots do not: an attempt due in the small hours mostly waits for
    # the morning, and the rest of its spree moves with it.
    local_h = ((eps.start[episode] + elapsed) / 3600.0 + 1.0) % 24.0  # Central European clock
    u_sleep = g("sleep").random((2, len(episode)))
    asleep = (seq > 0) & (local_h >= 1.0) & (local_h < 6.0) & (u_sleep[0] < SLEEP[sc[episode]])
    wait = np.where(asleep, (6.5 - local_h + 2.5 * u_sleep[1]) * 3600.0, 0.0)
    waited = np.cumsum(wait)
    elapsed += waited - np.repeat(waited[first] - wait[first], per)
    time = eps.start[episode] + elapsed
    scenario = np.where(cashout, CARD, eps.scenario[episode]).astype(np.int8)
    # After the block the fraudster tries a few more times, then gives up.
    persist = g("persist").binomial(2, 0.5, n)[episode]
    after = time >= eps.block[episode]
    rank_after = np.cumsum(after) - np.repeat(np.cumsum(after)[first] - after[first], per)
    kept = np.flatnonzero((~after | (rank_after <= persist)) & (elapsed <= EPISODE_DAYS * DAY_S))
    # Every attempt has its place in each draw's stream; only the kept ones are stored,
    # one row per draw, so a draw is a contiguous row.
    u = np.empty((len(DRAWS), len(kept)))
    for i, name in enumerate(DRAWS):
        draw = g("amount-normal").standard_normal if name == "amount" else g(name).random
        u[i] = draw(len(episode))[kept]
    return Attempts(episode[kept], seq[kept], scenario[kept], time[kept], after[kept], u)


def attempts_on(reg: Regime, day: date) -> tuple[Episodes, Attempts]:
    """The attempts made on `day` (time order) and the episodes they belong to."""
    months = range(month_index(day - timedelta(days=EPISODE_DAYS)), month_index(day) + 1)
    eps_parts, att_parts, offset = [], [], 0
    lo = (day.toordinal() - T0) * float(DAY_S)
    for m in months:
        eps, att = month_episodes(reg, m), month_attempts(reg, m)
        on = att.take(np.flatnonzero((att.time >= lo) & (att.time < lo + DAY_S)))
        eps_parts.append(eps)
        att_parts.append(
            Attempts(on.episode + offset, on.seq, on.scenario, on.time, on.after_block, on.u)
        )
        offset += len(eps.key)
    att = Attempts(  # along the attempts: the last axis (u holds one row per draw)
        **{
            f.name: np.concatenate([getattr(a, f.name) for a in att_parts], axis=-1)
            for f in fields(Attempts)
        }
    )
    eps = Episodes.concat(eps_parts)
    # An account opened after the day has nothing to steal yet.
    pop = portfolio_for(reg.seed, reg.population, reg.rows).pop
    opened = pop.account_opened[pop.card_customer[eps.slot[att.episode]]] <= day.toordinal()
    att = att.take(np.flatnonzero(opened))
    order = np.argsort(att.time, kind="stable")
    return eps, att.take(order)
