"""Daily synthetic card-payments feed: a reproducible, labelled fraud dataset."""

# The one place for the version (pyproject reads it from here): no importlib.metadata
# lookup at start-up.
__version__ = "0.1.0"

# Part of every manifest and object's metadata: rows are reproducible for a given
# (seed, date, rows) *and* generator version. Bumped whenever the rows change, on its
# own schedule rather than the package's.
GENERATOR_VERSION = "3.2.0"
