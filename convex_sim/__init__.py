"""convex-sim: a deterministic, in-memory reference implementation of Convex.

Test Convex-style apps fast, and find the races in them. See README.md.
"""

from .errors import (
    ContentionError,
    ConvexError,
    ConvexSimError,
    IndexRangeError,
    InvalidIdError,
    InvalidValueError,
    LimitExceededError,
    QueryError,
    SchemaError,
    UnknownIndexError,
    UnknownTableError,
    ValidationError,
    WriteInReadOnlyError,
)
from .schema import define_schema, define_table
from .validators import v
from .values import UNDEFINED

__all__ = [
    "UNDEFINED",
    "ContentionError",
    "ConvexError",
    "ConvexSimError",
    "IndexRangeError",
    "InvalidIdError",
    "InvalidValueError",
    "LimitExceededError",
    "QueryError",
    "SchemaError",
    "UnknownIndexError",
    "UnknownTableError",
    "ValidationError",
    "WriteInReadOnlyError",
    "define_schema",
    "define_table",
    "v",
]
