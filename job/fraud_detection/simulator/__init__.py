"""The generator core: populations → transactions → fraud injection, all pure."""

from fraud_detection.simulator.dataset import (
    DEFAULT_FRAUD_RATE,
    DEFAULT_SEED,
    DaySpec,
    Shard,
    generate_dataset,
    iter_blocks,
)
from fraud_detection.simulator.population import PopulationSizes

__all__ = [
    "DEFAULT_FRAUD_RATE",
    "DEFAULT_SEED",
    "DaySpec",
    "PopulationSizes",
    "Shard",
    "generate_dataset",
    "iter_blocks",
]
