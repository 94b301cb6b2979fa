"""What app code gets as ``ctx``: identity and ``auth``, ``db`` (reader, writer, system
tables), and the contexts of queries, mutations and actions.

A context is made per execution by the runtime (:mod:`convex_sim.runtime`), which it
calls back for nested calls and services; ``ctx.db`` works on the execution's
transaction. App code of a component sees its own tables only (``namespace``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .database import Transaction
from .errors import (
    ConvexSimError,
    InvalidIdError,
    InvalidValueError,
    UnknownTableError,
    hide_simulator_frames,
    read_only_write,
    wrong_context,
)
from .functions import ACTION, MUTATION, QUERY, ConvexFunction
from .meta import Meta
from .queries import Expr, Query
from .steps import Step
from .values import format_value

if TYPE_CHECKING:
    from .runtime import Runtime

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours


# --- Identity ------------------------------------------------------------------------


@dataclass(frozen=True)
class UserIdentity:
    """Who is calling, as ``ctx.auth.get_user_identity()`` returns it.

    Field names are Convex's, in snake_case. Claims without a standard field
    are in ``claims``.
    """

    token_identifier: str
    subject: str
    issuer: str
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    nickname: str | None = None
    preferred_username: str | None = None
    profile_url: str | None = None
    picture_url: str | None = None
    email: str | None = None
    email_verified: bool | None = None
    gender: str | None = None
    birthday: str | None = None
    timezone: str | None = None
    language: str | None = None
    phone_number: str | None = None
    phone_number_verified: bool | None = None
    address: str | None = None
    updated_at: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)


DEFAULT_ISSUER = "https://convex.test"
_IDENTITY_FIELDS = {f.name for f in fields(UserIdentity)} - {"claims"}


def make_identity(fields_: Mapping[str, Any], default_subject: str) -> UserIdentity:
    """A UserIdentity from keyword fields, filling ``subject``, ``issuer``, ``token_identifier``."""
    known = {k: x for k, x in fields_.items() if k in _IDENTITY_FIELDS}
    claims = {k: x for k, x in fields_.items() if k not in _IDENTITY_FIELDS}
    known.setdefault("subject", default_subject)
    known.setdefault("issuer", DEFAULT_ISSUER)
    known.setdefault("token_identifier", f"{known['issuer']}|{known['subject']}")
    for name in ("subject", "issuer", "token_identifier"):
        if not isinstance(known[name], str):
            raise InvalidValueError(f"with_identity: {name} must be a str, got {format_value(known[name])}")
    return UserIdentity(**known, claims=claims)


class Auth:
    """``ctx.auth``."""

    __slots__ = ("_identity",)

    def __init__(self, identity: UserIdentity | None) -> None:
        self._identity = identity

    def get_user_identity(self) -> UserIdentity | None:
        return self._identity


# --- Database access for app code -----------------------------------------------------------

#: The scheduler's system table (named here too: the scheduler is a layer above).
JOBS_TABLE = "_scheduled_functions"
#: File storage rows: ``_storage`` for the app, ``<component path>/_storage`` for a component.
STORAGE_SUFFIX = "/_storage"


def _plain_app_table(namespace: str, table: Any) -> bool:
    """Whether app code (no component namespace) names one of its own user tables: nothing
    to rename or refuse."""
    return not namespace and type(table) is str and table[:1] != "_" and "/" not in table


class DatabaseReader:
    """``ctx.db`` in a query: reads from the transaction's snapshot.

    ``namespace`` is the path of the component whose code runs (``""``: the app); its
    tables are stored as ``"<namespace>/<table>"`` and no other code may touch them."""

    __slots__ = ("_jobs", "_ns", "_txn")

    def __init__(self, txn: Transaction, namespace: str = "",
                 jobs: Callable[[dict], bool] | None = None) -> None:
        self._txn, self._ns = txn, namespace
        #: Which ``_scheduled_functions`` rows (those its code scheduled) this code may see; None: all
        #: (there are no components, whose jobs another's code may not see).
        self._jobs = jobs

    def __getattr__(self, name: str) -> Any:
        if name in ("insert", "patch", "replace", "delete"):
            raise read_only_write(name, self._txn.function)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def get(self, table_or_id: str, doc_id: str | None = None) -> dict | None:
        """``get(id)`` or ``get(table, id)``: the document, or None."""
        if doc_id is None:
            return self._txn.get(self._own(table_or_id, "db.get"))
        self._user_table(table_or_id, "db.get")
        return self._txn.get(doc_id, table=self._table(table_or_id, "db.get"))

    def query(self, table: str) -> Query:
        """Start a query over ``table``."""
        if _plain_app_table(self._ns, table):
            return Query(self._txn, table)
        self._user_table(table, "db.query")
        return Query(self._txn, self._table(table, "db.query"))

    def normalize_id(self, table: str, doc_id: Any) -> str | None:
        """``doc_id`` if it is an ID of ``table``, else None."""
        table = self._table(table, "db.normalize_id")
        self._txn.db.table(table, function=self._txn.function)
        return doc_id if self._txn.db.table_of_id(doc_id) == table else None

    def _table(self, table: Any, op: str) -> Any:
        """The stored name of this code's table ``table``."""
        if isinstance(table, str) and "/" in table:
            raise UnknownTableError(f'In {self._txn.function}: {op}("{table}"): no such table; '
                                 "a component's tables are visible only to its own functions.")
        return f"{self._ns}/{table}" if self._ns and isinstance(table, str) and not table.startswith("_") else table

    def _own(self, doc_id: Any, op: str) -> Any:
        """``doc_id``, after checking that it is an ID of one of this code's own tables."""
        if self._jobs is None:   # no components installed: every table is the app's
            return doc_id
        table = self._txn.db.table_of_id(doc_id)
        if table is None or (not self._ns and "/" not in table):
            return doc_id   # not an ID (the operation says so), or the app's own table
        if not table.startswith("_") and table.rpartition("/")[0] != self._ns:
            owner, _, local = table.rpartition("/")
            whose = f"component {owner!r}" if owner else "the app"
            mine = f"component {self._ns!r}" if self._ns else "the app"
            raise InvalidIdError(
                f'In {self._txn.function}: {op}: ID "{doc_id}" is for table "{local}" of {whose}; '
                f"{mine} can access only its own tables.")
        return doc_id

    @property
    def system(self) -> SystemReader:
        """Read-only access to system tables (``_storage``, ``_scheduled_functions``)."""
        return SystemReader(self._txn, self._jobs, self._ns)

    def _user_table(self, table: Any, op: str) -> None:
        if isinstance(table, str) and table.startswith("_"):
            raise ConvexSimError(
                f"In {self._txn.function}: {op}({table!r}): system tables are read through "
                f"ctx.db.system.{op.split('.')[1]}(...).")


class SystemReader:
    """``ctx.db.system``: reads of system tables."""

    __slots__ = ("_jobs", "_ns", "_txn")

    def __init__(self, txn: Transaction, jobs: Callable[[dict], bool] | None = None, namespace: str = "") -> None:
        self._txn, self._jobs, self._ns = txn, jobs, namespace

    def get(self, doc_id: str) -> dict | None:
        table = self._txn.db.table_of_id(doc_id)
        if table is not None and ("/" + table).endswith(STORAGE_SUFFIX) and table.rpartition("/")[0] != self._ns:
            return None   # another component's (or the app's) file
        doc = self._txn.get(doc_id)
        if doc is not None and self._jobs is not None and table == JOBS_TABLE and not self._jobs(doc):
            return None   # another component's (or the app's) job
        return doc

    def query(self, table: str) -> Query:
        if not (isinstance(table, str) and table.startswith("_")):
            raise ConvexSimError(f"In {self._txn.function}: db.system.query({table!r}): not a system table.")
        if self._ns and table == STORAGE_SUFFIX[1:]:
            table = self._ns + STORAGE_SUFFIX
        query = Query(self._txn, table)
        if table == JOBS_TABLE and self._jobs is not None:
            jobs = self._jobs
            query.filter(lambda q: Expr(lambda doc: jobs(doc), "(own jobs)", 0))
        return query


class DatabaseWriter(DatabaseReader):
    """``ctx.db`` in a mutation: reads plus buffered writes."""

    __slots__ = ()

    def insert(self, table: str, value: Mapping[str, Any]) -> str:
        if _plain_app_table(self._ns, table):
            return self._txn.insert(table, value)
        self._user_table(table, "db.insert")
        return self._txn.insert(self._table(table, "db.insert"), value)

    def patch(self, id_or_table: str, value_or_id: Any, value: Any = None) -> None:
        """``patch(id, fields)`` or ``patch(table, id, fields)``."""
        if value is None:
            self._txn.patch(self._own(id_or_table, "db.patch"), value_or_id)
        else:
            self._txn.patch(value_or_id, value, self._table(id_or_table, "db.patch"))

    def replace(self, id_or_table: str, value_or_id: Any, value: Any = None) -> None:
        """``replace(id, fields)`` or ``replace(table, id, fields)``."""
        if value is None:
            self._txn.replace(self._own(id_or_table, "db.replace"), value_or_id)
        else:
            self._txn.replace(value_or_id, value, self._table(id_or_table, "db.replace"))

    def delete(self, table_or_id: str, doc_id: str | None = None) -> None:
        """``delete(id)`` or ``delete(table, id)``."""
        if doc_id is None:
            self._txn.delete(self._own(table_or_id, "db.delete"))
        else:
            self._txn.delete(doc_id, table=self._table(table_or_id, "db.delete"))


# --- Nested calls in queries and mutations -------------------------------------------------


class _Ready:
    """An awaitable that is already done: nested calls inside queries and mutations."""

    __slots__ = ("_error", "_value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value, self._error = value, error

    def __await__(self) -> Generator[Any, Any, Any]:
        if self._error is not None:
            raise self._error
        return self._value
        yield  # makes this a generator  # pragma: no cover


def _immediate(is_async: bool, run: Callable[[], Any]) -> Any:
    """Run a nested call now; hand the result back awaitable if the caller is ``async def``."""
    if not is_async:
        return run()
    try:
        return _Ready(run())
    except Exception as exc:  # raised when awaited, where the caller expects it
        return _Ready(error=exc)


# --- Contexts ---------------------------------------------------------------------------------


class _BaseCtx:
    """What every context has: ``auth`` and the runtime's services."""

    #: ``ctx.auth`` (made on first use, as most functions never ask).
    auth: Auth

    def __init__(self, runtime: Runtime, identity: UserIdentity | None, function: str,
                 is_async: bool, fn: ConvexFunction | None = None) -> None:
        self._runtime, self._identity, self._function, self._is_async = runtime, identity, function, is_async
        self._fn = fn
        #: The component instance whose code runs (None: the app); see convex_sim.component.
        self._scope = fn.component if fn is not None else None

    @property
    def meta(self) -> Meta:
        """``ctx.meta``: ``get_function_metadata()`` and, in queries and mutations,
        ``get_transaction_metrics()``."""
        return Meta(self._fn, self._function, getattr(self, "txn", None))

    def __getattr__(self, name: str) -> Any:
        if name == "auth":
            self.auth = Auth(self._identity)
            return self.auth
        factory = self._runtime.service(name) if not name.startswith("_") else None
        if factory is None:
            kind = MUTATION if isinstance(self, MutationCtx) else QUERY if isinstance(self, QueryCtx) else ACTION
            raise wrong_context(kind, name, self._function) or AttributeError(
                f"{type(self).__name__} has no attribute {name!r}")
        service = factory(self)
        setattr(self, name, service)
        return service


class QueryCtx(_BaseCtx):
    """The ``ctx`` of a query: ``db`` (read-only), ``auth``, ``storage`` (reader), ``run_query``."""

    _database: type[DatabaseReader] = DatabaseReader

    def __init__(self, runtime: Runtime, txn: Transaction, identity: UserIdentity | None,
                 function: str, is_async: bool, fn: ConvexFunction | None = None) -> None:
        super().__init__(runtime, identity, function, is_async, fn)
        self.txn = txn
        tree = runtime.components
        if tree is None:
            self.db = self._database(txn)
        else:
            namespace = self._scope.path if self._scope is not None else ""
            self.db = self._database(txn, namespace, lambda job: tree.job_owner(job) == namespace)

    def run_query(self, ref: Any, args: Mapping[str, Any] | None = None, *,
                  transaction_limits: Mapping[str, Any] | None = None,
                  use_stale_snapshot: bool = False) -> Any:
        """Run a query in this transaction. ``transaction_limits`` caps what the call may use
        (see docs/limits.md); ``use_stale_snapshot`` (mutations only) runs it on the
        transaction's begin snapshot, without this mutation's writes or read dependencies."""
        return _immediate(self._is_async, lambda: self._runtime.nested(
            self, QUERY, ref, args, transaction_limits=transaction_limits,
            use_stale_snapshot=use_stale_snapshot))


class MutationCtx(QueryCtx):
    """The ``ctx`` of a mutation: ``db`` (read/write), ``auth``, ``scheduler``, ``storage``,
    ``run_query``, ``run_mutation``."""

    _database = DatabaseWriter

    def run_mutation(self, ref: Any, args: Mapping[str, Any] | None = None, *,
                     transaction_limits: Mapping[str, Any] | None = None) -> Any:
        """Run a mutation in this transaction; if it raises, only its own writes are undone."""
        return _immediate(self._is_async, lambda: self._runtime.nested(
            self, MUTATION, ref, args, transaction_limits=transaction_limits))


class ActionCtx(_BaseCtx):
    """The ``ctx`` of an action: ``run_query``, ``run_mutation``, ``run_action``, ``auth``,
    ``scheduler``, ``storage``. Every call must be awaited; each is a step."""

    def run_query(self, ref: Any, args: Mapping[str, Any] | None = None) -> Step:
        return self._step(QUERY, ref, args)

    def run_mutation(self, ref: Any, args: Mapping[str, Any] | None = None) -> Step:
        return self._step(MUTATION, ref, args)

    def run_action(self, ref: Any, args: Mapping[str, Any] | None = None) -> Step:
        return self._step(ACTION, ref, args)

    def vector_search(self, table: str, index: str, options: Mapping[str, Any]) -> Step:
        """The nearest documents: ``[{"_id", "_score"}]`` (``options``: ``vector``, ``limit``,
        ``filter``). Awaited, like every ctx call of an action."""
        return Step("vector_search", None, (table, index, options), self._identity)

    def _step(self, kind: str, ref: Any, args: Any) -> Step:
        fn = self._runtime.resolve(ref, kind, caller=self._function, ctx=self)
        return Step(kind, fn, args, self._runtime.identity_for(self, fn))
