"""Convex's limits, in one place.

Figures from the Convex docs' "Limits" page (current values; older docs had
half of some). See docs/limits.md for the table and the source of each.
"""

from __future__ import annotations

from .errors import LimitExceededError

# Per document
MAX_DOCUMENT_BYTES = 1 << 20          # 1 MiB
MAX_DOCUMENT_FIELDS = 1024
MAX_FIELD_NAME_LENGTH = 64
MAX_NESTING_DEPTH = 16
MAX_ARRAY_LENGTH = 8192

# Per transaction (query or mutation)
MAX_BYTES_READ = 16 << 20             # 16 MiB
MAX_BYTES_WRITTEN = 16 << 20          # 16 MiB
MAX_DOCUMENTS_READ = 32_000           # documents scanned
MAX_INDEX_RANGES_READ = 4_096         # each db.get / db.query
MAX_DOCUMENTS_WRITTEN = 16_000
MAX_FUNCTIONS_SCHEDULED = 1_000
MAX_SCHEDULED_ARGS_BYTES = 16 << 20

# Per call
MAX_ARGS_BYTES = 8 << 20              # 8 MiB
MAX_RETURN_BYTES = 16 << 20           # unverified
MAX_FILTER_OPERATORS = 256
MAX_ACTION_MS = 10 * 60 * 1000        # an action's (virtual) running time: 10 minutes

# Search
MAX_SEARCH_TERMS = 16
MAX_SEARCH_RESULTS = 1024
MAX_VECTOR_RESULTS = 256
MIN_VECTOR_DIMENSIONS, MAX_VECTOR_DIMENSIONS = 2, 4096

# Optimistic concurrency control: how often a conflicting mutation is re-run
# before the caller gets ContentionError (convex-js discussion; unverified).
MAX_OCC_RETRIES = 4

# Not a Convex limit: console lines kept from functions run outside a handle call
# (scheduled functions, explorations), so a long run's memory stays bounded.
MAX_LOG_LINES_KEPT = 1_000


def exceeded(what: str, limit: int, reached: int, function: str) -> LimitExceededError:
    """The error for one exceeded limit: names the limit, the figure and the function."""
    return LimitExceededError(
        f"Too many {what} in a single function execution (limit: {limit:,}, "
        f"reached: {reached:,}) in {function}. See docs/limits.md.")
