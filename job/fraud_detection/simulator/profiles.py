"""Presets: how much fraud, and of which kind.

`training` is rich in fraud so that a model has thousands of positives a day;
`realistic` follows the order of magnitude that European supervisors publish for
card payments (about 0.015 % of transactions by count), with most losses
card-not-present. docs/data.md gives the sources and the reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    name: str
    fraud_rate: float  # share of the average day's payments that are fraud
    # Share of fraud episodes per scenario (FRAUD_SCENARIOS order) on the timeline's anchor date.
    scenario_shares: tuple[float, float, float, float, float]

    @property
    def shares(self) -> np.ndarray:
        s = np.asarray(self.scenario_shares, dtype=np.float64)
        return s / s.sum()


PROFILES: dict[str, Profile] = {
    "training": Profile("training", 0.005, (0.16, 0.34, 0.14, 0.16, 0.20)),
    "realistic": Profile("realistic", 0.0002, (0.08, 0.50, 0.10, 0.20, 0.12)),
}
DEFAULT_PROFILE = "training"
