"""What the report compares the day with: published fraud rates, drift thresholds, clocks."""

from __future__ import annotations

# EBA/ECB, "2024 Report on payment fraud" (H1 2023, EEA card payments): the share of card
# payments that were fraud, by count and by value. The realistic profile aims at these.
PUBLISHED_FRAUD_SHARE = {"count": 0.00015, "value": 0.00031}
PUBLISHED_SOURCE = "EBA/ECB 2024 Report on payment fraud, card payments, H1 2023"
# Within this factor of the published share counts as calibrated (a day's fraud swings).
CALIBRATION_FACTOR = 2.0
CALIBRATED_PROFILE = "realistic"

# Population stability index per column, today against the previous weeks pooled: the usual
# reading is < 0.1 stable, 0.1-0.25 a shift worth a look, > 0.25 a different population.
PSI_AMBER, PSI_RED = 0.1, 0.25
BASELINE_DAYS = 28
DRIFT_BINS = 10  # quantile bins of the baseline for numeric columns

# Where each merchant country's people pay by the clock (IANA zones). The feed carries the
# country, not the zone; tests/unit/test_report.py keeps this in step with the simulator.
COUNTRY_TZ = {
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "ES": "Europe/Madrid",
    "IT": "Europe/Rome",
    "NL": "Europe/Amsterdam",
    "PL": "Europe/Warsaw",
    "SE": "Europe/Stockholm",
    "PT": "Europe/Lisbon",
    "DK": "Europe/Copenhagen",
    "CZ": "Europe/Prague",
}
