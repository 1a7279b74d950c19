"""Daily synthetic card-payments feed: a reproducible, labelled fraud dataset."""

# The one place for the version (pyproject reads it from here): no importlib.metadata
# lookup at start-up.
__version__ = "0.1.0"

# Part of every manifest and object's metadata: rows are reproducible for a given
# (seed, date, rows) *and* generator version.
GENERATOR_VERSION = __version__
