"""Convex's limits, in one place.

Figures from the Convex docs' "Limits" page (current values; older docs had
half of some). See docs/limits.md for the table and the source of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import LimitExceededError, OutOfMemoryError, UserTimeoutError

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
MAX_ARGS_BYTES = 16 << 20             # 16 MiB (convex-backend knobs.rs FUNCTION_MAX_ARGS_SIZE)
MAX_RETURN_BYTES = 16 << 20           # convex-backend knobs.rs FUNCTION_MAX_RESULT_SIZE
MAX_FILTER_OPERATORS = 256
MAX_ACTION_MS = 10 * 60 * 1000        # an action's (virtual) running time: 10 minutes

# App code (convex-backend crates/common/src/knobs.rs: DATABASE_UDF_USER_TIMEOUT,
# ACTION_USER_TIMEOUT, ISOLATE_MAX_USER_HEAP_SIZE; the docs' "Limits" page: "Convex runtime:
# 64 MiB RAM. Node.js runtime: 512 MiB RAM.")
QUERY_MUTATION_USER_SECONDS = 1.0     # CPU time of user code, database operations excluded
ACTION_USER_SECONDS = 600.0           # 10 minutes
JS_MEMORY_BYTES = 64 << 20            # 64 MiB per execution in Convex's runtime
NODE_MEMORY_BYTES = 512 << 20         # 512 MiB for the Node.js process of "use node" actions
# Not a Convex figure: the C stack JavaScript may use (V8's is about 1 MiB, and its frames are
# smaller than QuickJS's); kept well inside the thread's own stack, see js/engine.py.
JS_STACK_BYTES = 4 << 20

# Search
MAX_SEARCH_TERMS = 16
MAX_SEARCH_RESULTS = 1024
MAX_VECTOR_RESULTS = 256
MIN_VECTOR_DIMENSIONS, MAX_VECTOR_DIMENSIONS = 2, 4096

# Optimistic concurrency control: how often a conflicting mutation is re-run before the
# caller gets ContentionError (convex-backend crates/common/src/knobs.rs
# UDF_EXECUTOR_OCC_MAX_RETRIES = 4, "Max number of times a mutation can retry due to OCC
# conflicts"; Convex waits 100 ms to 2 s between attempts, a wait the simulator skips).
MAX_OCC_RETRIES = 4

# Not a Convex limit: console lines kept from functions run outside a handle call
# (scheduled functions, explorations), so a long run's memory stays bounded.
MAX_LOG_LINES_KEPT = 1_000


def exceeded(what: str, limit: int, reached: int, function: str) -> LimitExceededError:
    """The error for one exceeded limit: names the limit, the figure and the function."""
    return LimitExceededError(
        f"Too many {what} in a single function execution (limit: {limit:,}, "
        f"reached: {reached:,}) in {function}. See docs/limits.md.")


@dataclass(frozen=True)
class TransactionLimits:
    """The per-transaction limits a query or mutation runs under (Convex's
    ``TransactionLimits``, convex-js ``src/server/meta.ts``). The defaults are Convex's;
    ``ConvexSim(..., transaction_limits=...)`` lowers or raises them for a whole simulator,
    ``ctx.run_query/run_mutation(..., transaction_limits=...)`` lowers them for one call."""

    bytes_read: int = MAX_BYTES_READ
    bytes_written: int = MAX_BYTES_WRITTEN
    database_queries: int = MAX_INDEX_RANGES_READ
    documents_read: int = MAX_DOCUMENTS_READ
    documents_written: int = MAX_DOCUMENTS_WRITTEN
    functions_scheduled: int = MAX_FUNCTIONS_SCHEDULED
    scheduled_function_args_bytes: int = MAX_SCHEDULED_ARGS_BYTES

    @classmethod
    def of(cls, value: TransactionLimits | Mapping[str, Any] | None,
           base: TransactionLimits | None = None) -> TransactionLimits:
        """``value`` as limits: a TransactionLimits, or a dict of some of its fields
        (snake_case or Convex's camelCase) over ``base`` (default: Convex's)."""
        if isinstance(value, TransactionLimits):
            return value
        if value is None:   # the common case: Convex's limits, one shared (frozen) instance
            return base or _CONVEX_LIMITS
        return replace(base or _CONVEX_LIMITS, **_limit_fields(value))

    def budget(self, budget: Mapping[str, Any], usage: Mapping[str, int]) -> TransactionLimits:
        """Limits for a nested call allowed ``budget`` more of each figure than ``usage`` (the
        transaction's use so far), never above these limits (convex-backend
        ``Transaction::set_transaction_limits``: "can only tighten the current limits")."""
        wanted = _limit_fields(budget)
        return replace(self, **{k: min(getattr(self, k), usage[k] + n) for k, n in wanted.items()})

    def metrics(self, usage: Mapping[str, int]) -> dict[str, dict[str, int]]:
        """``{figure: {"used", "remaining"}}``, as ``getTransactionMetrics`` reports them."""
        return {f.name: {"used": usage[f.name], "remaining": getattr(self, f.name) - usage[f.name]}
                for f in fields(self)}


_CONVEX_LIMITS = TransactionLimits()

#: The names of the figures, and Convex's camelCase spelling of each.
LIMIT_FIELDS = tuple(f.name for f in fields(TransactionLimits))
CAMEL_NAMES = {name: name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])
               for name in LIMIT_FIELDS}
_BY_CAMEL = {camel: name for name, camel in CAMEL_NAMES.items()}


def _limit_fields(value: Mapping[str, Any]) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise LimitExceededError(f"transaction_limits must be a dict of limits, got {value!r}")
    out = {}
    for key, n in value.items():
        name = key if key in CAMEL_NAMES else _BY_CAMEL.get(key)
        if name is None:
            raise LimitExceededError(f"Unknown transaction limit {key!r}; known: {list(LIMIT_FIELDS)}")
        if type(n) is float and n.is_integer():
            n = int(n)
        if type(n) is not int or n < 0:
            raise LimitExceededError(f"Transaction limit {key!r} must be an int >= 0, got {n!r}")
        out[name] = n
    return out


@dataclass(frozen=True)
class UserCodeLimits:
    """The time and memory app code may use per function call. The defaults are Convex's;
    ``ConvexSim(..., user_code_limits={"query_seconds": 0.2})`` changes them for a simulator.

    Time is the CPU time app code runs, in seconds (time the simulator spends answering its
    ctx calls does not count, as Convex does not count database operations); for a "use node"
    action it is the time the Node.js process works on the call."""

    query_seconds: float = QUERY_MUTATION_USER_SECONDS
    mutation_seconds: float = QUERY_MUTATION_USER_SECONDS
    action_seconds: float = ACTION_USER_SECONDS          # HTTP actions too
    memory_bytes: int = JS_MEMORY_BYTES                  # per call, in the embedded engine
    node_memory_bytes: int = NODE_MEMORY_BYTES           # the Node.js process of "use node" actions

    @classmethod
    def of(cls, value: UserCodeLimits | Mapping[str, Any] | None) -> UserCodeLimits:
        """``value`` as limits: a UserCodeLimits, or a dict of some of its fields over Convex's."""
        if isinstance(value, UserCodeLimits):
            return value
        if value is None:
            return _CONVEX_USER_CODE_LIMITS
        if not isinstance(value, Mapping):
            raise LimitExceededError(f"user_code_limits must be a dict of limits, got {value!r}")
        known = {f.name: f.type for f in fields(cls)}
        changes: dict[str, Any] = {}
        for key, n in value.items():
            if key not in known:
                raise LimitExceededError(f"Unknown user-code limit {key!r}; known: {list(known)}")
            if isinstance(n, bool) or not isinstance(n, int | float) or not n > 0:
                raise LimitExceededError(f"User-code limit {key!r} must be a number > 0, got {n!r}")
            changes[key] = float(n) if key.endswith("_seconds") else int(n)
        return replace(_CONVEX_USER_CODE_LIMITS, **changes)

    def seconds_for(self, kind: str) -> float:
        """The time limit of a ``kind`` function (query, mutation, action or http)."""
        if kind == "query":
            return self.query_seconds
        return self.mutation_seconds if kind == "mutation" else self.action_seconds


_CONVEX_USER_CODE_LIMITS = UserCodeLimits()


def _seconds(seconds: float) -> str:
    return f"{seconds:g}s"


def _mebibytes(size: int) -> str:
    return f"{size / (1 << 20):g} MiB"


def user_timeout(function: str, seconds: float) -> UserTimeoutError:
    """The error for app code past its time limit (Convex's words, and the function)."""
    return UserTimeoutError(
        f"{function}: Function execution timed out (maximum duration: {_seconds(seconds)}). "
        "See docs/limits.md.")


def out_of_memory(function: str, size: int) -> OutOfMemoryError:
    """The error for app JavaScript past its memory limit (Convex's words, and the function)."""
    return OutOfMemoryError(
        f"{function}: JavaScript execution ran out of memory (maximum memory usage: "
        f"{_mebibytes(size)}). See docs/limits.md.")
