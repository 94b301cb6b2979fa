"""convex-sim: a deterministic, in-memory reference implementation of Convex.

Test Convex-style apps fast, and find the races in them. See README.md.
"""

from .auth import AuthError, TestIssuer
from .component import ComponentError, components, define_app, define_component
from .errors import (
    ContentionError,
    ConvexError,
    ConvexSimError,
    IndexRangeError,
    InvalidIdError,
    InvalidValueError,
    LimitExceededError,
    OutOfMemoryError,
    QueryError,
    SchemaError,
    UnknownIndexError,
    UnknownTableError,
    UserTimeoutError,
    ValidationError,
    WriteInReadOnlyError,
    WrongContextError,
)
from .explore import ExplorationResult, Flow, Op
from .functions import (
    ConvexFunction,
    FunctionNotFoundError,
    FunctionReference,
    action,
    http_action,
    internal_action,
    internal_mutation,
    internal_query,
    mutation,
    query,
)
from .http import HttpRouter
from .pagination import pagination_opts_validator
from .runtime import (
    ArgumentValidationError,
    NetworkNotAllowedError,
    NondeterminismError,
    ReturnsValidationError,
    UserIdentity,
    WrongFunctionKindError,
)
from .scheduler import Crons, ScheduledFunctionFailed, SchedulerError
from .schema import define_schema, define_table
from .sim import ConvexSim
from .steps import ActionStuckError, UnawaitedCallError
from .validators import v
from .values import UNDEFINED

__all__ = [
    "UNDEFINED",
    "ActionStuckError",
    "ArgumentValidationError",
    "AuthError",
    "ComponentError",
    "ContentionError",
    "ConvexError",
    "ConvexFunction",
    "ConvexSim",
    "ConvexSimError",
    "Crons",
    "ExplorationResult",
    "Flow",
    "FunctionNotFoundError",
    "FunctionReference",
    "HttpRouter",
    "IndexRangeError",
    "InvalidIdError",
    "InvalidValueError",
    "LimitExceededError",
    "NetworkNotAllowedError",
    "NondeterminismError",
    "Op",
    "OutOfMemoryError",
    "QueryError",
    "ReturnsValidationError",
    "ScheduledFunctionFailed",
    "SchedulerError",
    "SchemaError",
    "TestIssuer",
    "UnawaitedCallError",
    "UnknownIndexError",
    "UnknownTableError",
    "UserIdentity",
    "UserTimeoutError",
    "ValidationError",
    "WriteInReadOnlyError",
    "WrongContextError",
    "WrongFunctionKindError",
    "action",
    "components",
    "define_app",
    "define_component",
    "define_schema",
    "define_table",
    "http_action",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "pagination_opts_validator",
    "query",
    "v",
]
