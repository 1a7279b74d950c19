"""Daily synthetic card-payments feed: a reproducible, labelled fraud dataset."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("daily-synthetic")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# Part of every manifest and object's metadata: rows are reproducible for a given
# (seed, date, rows) *and* generator version. Bumped whenever the rows change, on its
# own schedule rather than the package's.
GENERATOR_VERSION = "2.0.0"
