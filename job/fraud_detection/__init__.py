"""Daily synthetic card-payments feed: a reproducible, labelled fraud dataset."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("daily-synthetic")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# Part of every manifest and object's metadata: rows are reproducible for a given
# (seed, date, rows) *and* generator version.
GENERATOR_VERSION = __version__
