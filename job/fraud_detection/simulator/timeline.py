"""The calendar: how a day's spending and a day's fraud differ from the average day.

Everything here is a pure function of the date (and, for campaign noise, the seed),
so any day can be generated alone and the timeline is the same on every run.
docs/data.md lists the timeline.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from fraud_detection.simulator.reference import CATEGORIES, N_CATEGORIES

_MCC = {c.mcc: i for i, c in enumerate(CATEGORIES)}


def _boost(weights: dict[str, float]) -> np.ndarray:
    out = np.ones(N_CATEGORIES)
    for mcc, w in weights.items():
        out[_MCC[mcc]] = w
    return out


_WEEKEND = _boost({"5812": 1.35, "5814": 1.2, "4111": 0.45, "7832": 1.6, "5311": 1.2,
                   "5651": 1.2, "7995": 1.3})  # fmt: skip
_SUNDAY = _boost({"5411": 0.6, "5311": 0.5, "5651": 0.5, "5732": 0.6})  # many shops closed
_PAYDAY = _boost({"5651": 1.25, "5732": 1.2, "5311": 1.2, "5812": 1.15, "5944": 1.3})
_FIRST_DAYS = _boost({"4899": 2.5, "5815": 1.4})  # subscriptions renew on the 1st–3rd
_SUMMER = _boost({"7011": 1.9, "4511": 1.6, "5812": 1.15, "5541": 1.15, "4111": 0.8})
_GIFTS = _boost({"5732": 1.7, "5944": 1.8, "5311": 1.6, "5651": 1.3, "5999": 1.5, "5942": 1.5})
_BLACK_FRIDAY = _boost({"5732": 2.6, "5651": 1.8, "5311": 1.8, "5999": 1.6})
_JANUARY_SALES = _boost({"5651": 1.4, "5311": 1.3})


@dataclass(frozen=True)
class DayShape:
    """How one day's legitimate spending differs from the average day."""

    category_multiplier: np.ndarray  # per category
    amount_factor: float  # multiplies every ticket
    trip_rate: float  # trips starting per customer and day
    decline_rate: float  # share of legitimate payments declined (insufficient funds...)


def black_friday(year: int) -> date:
    """The fourth Friday of November."""
    fridays = [d for d in range(1, 31) if _calendar.weekday(year, 11, d) == 4]
    return date(year, 11, fridays[3])


@lru_cache(maxsize=512)
def day_shape(day: date) -> DayShape:
    mult = np.ones(N_CATEGORIES)
    amount = 1.0
    trip_rate = 0.0025
    decline = 0.012
    weekday = day.weekday()
    if weekday >= 5:
        mult *= _WEEKEND
    if weekday == 6:
        mult *= _SUNDAY
    last = _calendar.monthrange(day.year, day.month)[1]
    if day.day >= 25 or day.day <= 2:  # paydays: salaries land around the 25th–1st
        mult *= _PAYDAY
        amount *= 1.08
    elif day.day >= 18:  # the lean days before payday: smaller tickets, more declines
        amount *= 0.95
        decline *= 1.6
    if day.day <= 3:
        mult *= _FIRST_DAYS
    if day.day == last:
        decline *= 1.3
    # Summer holidays: a smooth bump peaking in early August.
    summer = np.exp(-0.5 * ((day.timetuple().tm_yday - 215) / 22.0) ** 2)
    mult *= 1.0 + summer * (_SUMMER - 1.0)
    trip_rate *= 1.0 + 2.2 * summer
    # Christmas shopping builds from mid-November to the 23rd; then a quiet spell.
    if (day.month == 11 and day.day >= 15) or (day.month == 12 and day.day <= 23):
        ramp = min(1.0, (day - date(day.year, 11, 15)).days / 35.0)
        mult *= 1.0 + ramp * (_GIFTS - 1.0)
        amount *= 1.0 + 0.1 * ramp
    if day.month == 12 and 20 <= day.day <= 27:
        trip_rate *= 2.0  # home for the holidays
    if (day.month == 12 and day.day in (25, 26)) or (day.month == 1 and day.day == 1):
        mult *= _SUNDAY
    if day == black_friday(day.year) or day == black_friday(day.year) + timedelta(days=3):
        mult *= _BLACK_FRIDAY  # Black Friday and Cyber Monday
    if day.month == 1 and 2 <= day.day <= 15:
        mult *= _JANUARY_SALES
    return DayShape(
        category_multiplier=mult, amount_factor=amount, trip_rate=trip_rate, decline_rate=decline
    )


# --- fraud: tactics that change over time ----------------------------------------

EPOCH = date(2025, 1, 1)  # where the slow drifts are anchored
# A new account-takeover variant: SIM-swap / session hijack from residential proxies in
# the victim's own city, in daytime, cashing out through crypto and gift cards.
ATO_LOCAL_VARIANT_FROM = date(2025, 7, 1)
# Stolen-card fraud turns "low and slow": ordinary tickets at ordinary, domestic
# merchants, from proxies near the cardholder, instead of a few big resale purchases.
LOW_AND_SLOW_FROM = date(2025, 7, 14)
VARIANT_RAMP_DAYS = 10  # a new tactic takes over within this many days
# A card-testing wave: botnets hammer small online merchants, three times the volume,
# now on streaming and game top-ups instead of charities.
TESTING_WAVES: tuple[tuple[date, date], ...] = (
    (date(2025, 8, 11), date(2025, 8, 24)),
    (date(2026, 2, 9), date(2026, 2, 22)),
)
# A large online merchant is breached: many cards leak at once and are used for weeks.
MERCHANT_BREACHES: tuple[date, ...] = (date(2025, 10, 6), date(2026, 4, 13))
BREACH_DAYS = 21


@dataclass(frozen=True)
class Tactics:
    """How the fraudsters of one day operate (the drifting parts)."""

    takeover_local: float  # share of takeovers from a proxy in the victim's own city
    takeover_night: float  # share of takeover sessions started between 00:00 and 05:00
    card_amount: tuple[float, float]  # ticket multiplier range of stolen-card fraud
    card_typical: float  # share of stolen-card fraud in ordinary categories
    card_local: float  # share of online stolen-card fraud from a proxy in the victim's city


def _ramp(day: date, start: date) -> float:
    return float(np.clip(((day - start).days + 1) / VARIANT_RAMP_DAYS, 0.0, 1.0))


@lru_cache(maxsize=512)
def tactics(day: date) -> Tactics:
    ato = _ramp(day, ATO_LOCAL_VARIANT_FROM)
    slow = _ramp(day, LOW_AND_SLOW_FROM)
    return Tactics(
        takeover_local=0.3 + 0.5 * ato,
        takeover_night=0.3 - 0.2 * ato,
        card_amount=(1.2 - 0.3 * slow, 3.5 - 2.2 * slow),
        card_typical=0.45 + 0.45 * slow,
        card_local=0.4 + 0.4 * slow,
    )


def in_testing_wave(day: date) -> bool:
    return any(start <= day <= end for start, end in TESTING_WAVES)


def breach_intensity(day: date) -> float:
    """Extra compromised-card fraud from recent breaches (1.0 on the day after, fading)."""
    total = 0.0
    for b in MERCHANT_BREACHES:
        age = (day - b).days
        if 1 <= age <= BREACH_DAYS:
            total += 1.0 - (age - 1) / BREACH_DAYS
    return total


def scenario_drift(day: date) -> np.ndarray:
    """Multipliers of the base scenario shares: skimming fades, takeovers grow."""
    years = (day - EPOCH).days / 365.25
    return np.array(
        [
            max(0.3, 1.0 - 0.35 * years),  # compromised_terminal: chip and contactless win
            1.0 + 1.5 * breach_intensity(day),  # compromised_card
            3.0 if in_testing_wave(day) else 1.0,  # card_testing
            min(max(1.0 + 0.5 * years, 0.3), 2.5),  # account_takeover (np.clip's value)
            1.0,  # lost_stolen
        ]
    )


# Campaigns (episodes.py draws their shocks): gamma shape of a day's shock, lower is
# burstier; how many days a shock lasts; the multiplier's bounds.
CAMPAIGN_SHAPE = 2.0
CAMPAIGN_DAYS = 3  # a campaign's shock lasts this many days
CAMPAIGN_CLIP = (0.3, 3.0)
