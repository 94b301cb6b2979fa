"""Running registered functions: validation, execution, retries, nested calls, steps.

* A **query** runs against the snapshot of the latest commit, read-only.
* A **mutation** runs against a snapshot, buffering writes, then commits
  through the OCC committer; on conflict it is re-run (see ``call_mutation``).
  Nested ``ctx.run_query``/``ctx.run_mutation`` share the transaction; a
  nested mutation that raises rolls back only its own writes.
* An **action** is driven step by step: every awaited ``ctx`` call yields a
  :class:`Step` to whoever drives it (the test handle runs each at once; the
  explorer interleaves them with other work); see :mod:`convex_sim.steps`.

App code gets a context from :mod:`convex_sim.contexts`. While it runs, the
**determinism guard** (:mod:`convex_sim.guard`) is on:
``random`` is seeded per call, ``time.time()``/``datetime.now()`` read the virtual
clock, and network access from queries and mutations is refused.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import weakref
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

from . import limits
from .contexts import (  # noqa: F401 (re-exported: the contexts were first defined here)
    DEFAULT_ISSUER,
    JOBS_TABLE,
    STORAGE_SUFFIX,
    ActionCtx,
    Auth,
    DatabaseReader,
    DatabaseWriter,
    MutationCtx,
    QueryCtx,
    SystemReader,
    UserIdentity,
    _BaseCtx,
    make_identity,
)
from .database import Database, Transaction, WriteConflict
from .errors import (
    ContentionError,
    ConvexError,
    ConvexSimError,
    InvalidValueError,
    LimitExceededError,
    ValidationError,
    add_note,
    hide_simulator_frames,
)
from .functions import ACTION, MUTATION, QUERY, ConvexFunction, FunctionHandle, Registry
from .guard import (  # noqa: F401 (re-exported: the guard's names were first defined here)
    _CURRENT,
    CallFrame,
    NetworkNotAllowedError,
    NondeterminismError,
    install_network_guard,
    run_guarded,
    stable_seed,
)
from .queries import vector_search
from .steps import SLEEP, ActionStuckError, ActionTask, Step, pump  # noqa: F401 (re-exported)
from .validators import check_flat_object
from .values import check_value, format_value, value_size

#: Return values that may reach ``MAX_RETURN_BYTES`` (the rest are a few bytes).
_SIZED = frozenset({str, bytes, list, dict})

#: Told of every execution of an app function (``observe(fn)``), e.g. by
#: :mod:`convex_sim.coverage`; empty (the default) costs one empty loop per call.
INVOKE_OBSERVERS: list[Callable[[ConvexFunction], None]] = []


# --- Errors --------------------------------------------------------------------------


__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours


class ArgumentValidationError(ValidationError):
    """A call's arguments do not match the function's ``args`` validator."""


class ReturnsValidationError(ValidationError):
    """A function's return value does not match its ``returns`` validator."""


class WrongFunctionKindError(ConvexSimError, TypeError):
    """A query called as a mutation, an internal function called from a client, ..."""


# --- The runtime -----------------------------------------------------------------------------


@dataclass(slots=True)
class MutationAttempt:
    """A mutation that ran on a snapshot and waits to commit (or failed before)."""

    fn: ConvexFunction
    args: dict
    identity: UserIdentity | None
    txn: Transaction
    result: Any = None
    error: BaseException | None = None


class WeakService:
    """``method`` (bound to a service object) for ``Runtime.services``, holding its object
    weakly: a service keeps its runtime, so a strong reference back would make a cycle that
    only the garbage collector frees, and a simulator should go as soon as it is dropped."""

    __slots__ = ("_function", "_owner")

    def __init__(self, method: Callable[..., Any]) -> None:
        self._owner = weakref.ref(method.__self__)  # type: ignore[attr-defined]
        self._function = method.__func__  # type: ignore[attr-defined]

    def __call__(self, *args: Any) -> Any:
        owner = self._owner()
        if owner is None:
            raise ConvexSimError(f"{self._function.__qualname__}: its service object no longer exists.")
        return self._function(owner, *args)


class Runtime:
    """Executes registered functions against a database.

    ``services`` maps a ctx attribute name (``scheduler``, ``storage``, ...) to
    a factory ``f(ctx)``; the layers above the runtime register them.
    """

    def __init__(self, db: Database, registry: Registry, *, seed: int = 0) -> None:
        self.db = db
        self.registry = registry
        self.services: dict[str, Callable[[Any], Any]] = {}
        #: Called with a name ``services`` lacks, to register it on first use (a simulator
        #: builds its scheduler and storage only when something needs them).
        self.provide_service: Callable[[str], None] | None = None
        self._seed = seed
        self._calls = 0  # numbers function executions: (seed, number) seeds each one
        #: Overrides where execution seeds come from (the explorer seeds per operation, so that
        #: reordering independent operations does not change what ``random`` gives each).
        self.seed_source: Callable[[], int] | None = None
        self.max_retries = limits.MAX_OCC_RETRIES
        #: Called after each OCC conflict of a mutation: (function path, Conflict, attempt).
        self.on_conflict: list[Callable[[str, Any, int], None]] = []
        #: Where app code's output goes (``console.log`` of TypeScript functions): each call
        #: through the test handle collects its own; the rest keeps the latest lines only.
        self.logs: list[str] | collections.deque[str] = collections.deque(maxlen=limits.MAX_LOG_LINES_KEPT)
        #: The time and memory app code may use per call (ConvexSim's ``user_code_limits``).
        self.user_code_limits = limits.UserCodeLimits.of(None)
        #: The deployment's environment variables (``process.env`` in TypeScript functions).
        self.env: dict[str, str] = {}
        #: The installed components (a ``convex_sim.component.ComponentTree``), if any.
        self.components: Any = None
        #: False: actions' un-mocked outbound HTTP raises (set by ``sim.allow_network``).
        self.allow_network = True
        install_network_guard()

    def service(self, name: str) -> Callable[[Any], Any] | None:
        """The factory or step handler registered as ``name``, provided on first use."""
        factory = self.services.get(name)
        if factory is None and self.provide_service is not None:
            self.provide_service(name)
            factory = self.services.get(name)
        return factory

    # -- resolving and validating --------------------------------------------------------
    def lookup(self, ref: Any, *, caller: str = "", ctx: _BaseCtx | None = None) -> ConvexFunction:
        """The function ``ref`` names, for a call from ``ctx`` (its app or component's own
        functions and its components' public ones) or, without ``ctx``, from the test handle."""
        if isinstance(ref, FunctionHandle):   # a full path, from wherever the handle was made
            return self.registry.resolve(ref.path, caller=caller)
        if ctx is None or self.components is None:
            return self.registry.resolve(ref, caller=caller)
        return self.components.resolve(ref, caller=caller, scope=ctx._scope, from_code=True)

    @staticmethod
    def identity_for(ctx: _BaseCtx, fn: ConvexFunction) -> UserIdentity | None:
        """The identity ``fn`` runs with when ``ctx`` calls it: none inside another component."""
        return ctx._identity if getattr(fn, "component", None) is ctx._scope else None

    def resolve(self, ref: Any, kind: str, *, caller: str = "", public_only: bool = False,
                ctx: _BaseCtx | None = None) -> ConvexFunction:
        fn = self.registry.functions.get(ref) if ctx is None and type(ref) is str else None
        if fn is None:   # not a registered path as it stands (the test handle's commonest call)
            fn = self.lookup(ref, caller=caller, ctx=ctx)
        if fn.kind != kind:
            raise WrongFunctionKindError(
                f"{fn.path} is a {fn.kind.replace('_', ' ')}, not a {kind}; call it with "
                f"{'ctx' if caller else 'sim'}.{'run_' if caller else ''}{fn.kind}(...).")
        if public_only and fn.component is not None:
            raise WrongFunctionKindError(
                f"Could not find public function for '{fn.path}': it is a function of component "
                f"{fn.component.path!r}; clients call the app's public functions, which call "
                "components.")
        if public_only and not fn.is_public:
            raise WrongFunctionKindError(
                f"Could not find public function for '{fn.path}': it is internal "
                f"(internal_{fn.kind}), so "
                "only other functions and the test handle can call it. Make it public, or call "
                "a public function that calls it.")
        return fn

    def capture(self) -> int:
        return self._calls

    def restore(self, calls: int) -> None:
        self._calls = calls

    def new_frame(self, fn_path: str, kind: str, seed: int | tuple | None = None) -> CallFrame:
        """A frame for one execution; ``seed`` pins its ``random`` (else the next in sequence)."""
        if seed is None:
            self._calls += 1
            seed = self.seed_source() if self.seed_source is not None else (self._seed, self._calls)
        frame = CallFrame(fn_path, kind, self.db.clock.now_ms, seed)
        frame.offline = not self.allow_network
        return frame

    def check_args(self, fn: ConvexFunction, args: Any) -> dict:
        if args is None:
            args = {}
        if type(args) is not dict and not isinstance(args, Mapping):
            raise ArgumentValidationError(
                f"Failed to validate arguments for {fn.path}: arguments must be a dict, got "
                f"{format_value(args)}")
        flat = check_flat_object(args, fn.args)   # the commonest arguments, in one pass
        if flat is not None:
            checked, size = flat
        else:
            try:
                args = args if type(args) is dict else dict(args)   # both checks build a new dict
                checked = fn.args.check(args, (), self._ids(fn)) if fn.args else check_value(args)
            except ValidationError as exc:
                raise ArgumentValidationError(f"Failed to validate arguments for {fn.path}: {exc}") from None
            except InvalidValueError as exc:   # not a Convex value: the same error in every place
                raise InvalidValueError(f"Invalid arguments for {fn.path}: {exc}") from None
            size = value_size(checked)
        if size > limits.MAX_ARGS_BYTES:
            raise limits.exceeded("argument bytes", limits.MAX_ARGS_BYTES, size, fn.path)
        return checked

    def check_result(self, fn: ConvexFunction, result: Any) -> Any:
        """``result`` checked as ``fn``'s return value: its ``returns`` validator (else the value
        rules), and at most ``MAX_RETURN_BYTES`` (convex-backend ``deserialize_udf_result``)."""
        try:
            checked = fn.returns.check(result, (), self._ids(fn)) if fn.returns is not None \
                else check_value(result)
        except ValidationError as exc:
            raise ReturnsValidationError(f"Failed to validate the return value of {fn.path}: {exc}") from None
        except InvalidValueError as exc:   # not a Convex value: as a TypeScript function's
            raise InvalidValueError(f"Invalid return value of {fn.path}: {exc}") from None
        if type(checked) in _SIZED:
            size = value_size(checked)
            if size > limits.MAX_RETURN_BYTES:
                raise LimitExceededError(
                    f"The return value of {fn.path} is too large ({size:,} bytes; the limit is "
                    f"{limits.MAX_RETURN_BYTES:,} bytes, 16 MiB). See docs/limits.md.")
        return checked

    def _ids(self, fn: ConvexFunction) -> Callable[[Any], str | None]:
        """``v.id`` checks for ``fn``: IDs of its own app's or component's tables."""
        scope = getattr(fn, "component", None)
        return self.db.id_tables_for(scope.path) if scope is not None else self.db.table_of_id

    def _app_error(self, fn: ConvexFunction, exc: BaseException) -> BaseException:
        """Annotate an exception leaving app code with the function's path."""
        if isinstance(exc, ConvexError):
            try:
                exc.data = check_value(exc.data)
            except InvalidValueError as bad:
                return InvalidValueError(f"{fn.path} raised ConvexError with data that is not a Convex value: {bad}")
        elif not isinstance(exc, ConvexSimError):
            add_note(exc, f"(raised in Convex function {fn.path})")
        return exc

    # -- queries ------------------------------------------------------------------------------
    def call_query(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None,
                   *, at_ts: int | None = None, seed: int | None = None) -> tuple[Any, Transaction]:
        """Run a query at the latest (or ``at_ts``) snapshot; return (result, its transaction).

        ``seed`` pins the execution's ``random`` (subscriptions re-run queries with a seed of
        their own, so they do not shift the sequence other calls see)."""
        checked = self.check_args(fn, args)
        path = fn.path or ""
        txn = self.db.begin(path, read_only=True, at_ts=at_ts)
        frame = self.new_frame(path, QUERY, seed)
        ctx = QueryCtx(self, txn, identity, path, fn.is_async, fn)
        try:
            result = self.check_result(fn, run_guarded(frame, self._run_sync, fn, ctx, checked))
        except BaseException as exc:
            failed = self._app_error(fn, exc)
            with contextlib.suppress(AttributeError, TypeError):  # what it read before failing
                failed.convex_sim_reads = list(txn.reads)  # type: ignore[attr-defined]
            raise failed from None
        finally:
            txn.abort()
        return result, txn

    # -- mutations -------------------------------------------------------------------------------
    def begin_mutation(self, fn: ConvexFunction, args: dict, identity: UserIdentity | None,
                       body: Callable[[MutationCtx], Any] | None = None) -> MutationAttempt:
        """Run the mutation on the latest snapshot, buffering its writes (not committed)."""
        txn, result, error = self._run_mutation(fn, args, identity, body)
        return MutationAttempt(fn, args, identity, txn, result, error)

    def _run_mutation(self, fn: ConvexFunction, args: dict, identity: UserIdentity | None,
                      body: Callable[[MutationCtx], Any] | None
                      ) -> tuple[Transaction, Any, BaseException | None]:
        """:meth:`begin_mutation` as ``(transaction, result, error)``."""
        path = fn.path or ""
        txn = self.db.begin(path)
        frame = self.new_frame(path, MUTATION)
        ctx = MutationCtx(self, txn, identity, path, fn.is_async, fn)
        try:
            if body is None:
                return txn, self.check_result(fn, run_guarded(frame, self._run_sync, fn, ctx, args)), None
            return txn, run_guarded(frame, body, ctx), None
        except BaseException as exc:
            txn.abort()
            return txn, None, self._app_error(fn, exc)

    def commit_mutation(self, attempt: MutationAttempt) -> int:
        """Commit an attempt's writes; raises WriteConflict if its reads were invalidated."""
        return attempt.txn.commit()

    def call_mutation(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None,
                      body: Callable[[MutationCtx], Any] | None = None) -> tuple[Any, int]:
        """Run a mutation to completion, retrying on OCC conflicts; return (result, commit ts)."""
        checked = self.check_args(fn, args) if body is None else {}
        for attempt_no in range(self.max_retries + 1):
            txn, result, error = self._run_mutation(fn, checked, identity, body)
            if error is not None:
                raise error
            try:
                return result, txn.commit()
            except WriteConflict as conflict:
                last = conflict.conflict
                for listener in self.on_conflict:
                    listener(fn.path or "", conflict.conflict, attempt_no)
        raise ContentionError(
            f"{fn.path} failed after {self.max_retries + 1} attempts because of too much contention: "
            f"concurrent commits kept changing the data it read. Last conflict: {last}")

    # -- actions ---------------------------------------------------------------------------------
    def action_process(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None,
                       *, raw: bool = False) -> Generator[Step, Any, Any]:
        """The action as a generator: it yields each awaited :class:`Step` and expects its result
        sent back (or its exception thrown in); it returns the action's result.

        ``raw`` passes ``args`` through unvalidated and returns the result as is
        (HTTP actions take a request and return a response).
        """
        checked = args if raw else self.check_args(fn, args)
        for observe in INVOKE_OBSERVERS:
            observe(fn)
        frame = self.new_frame(fn.path or "", ACTION)
        ctx = ActionCtx(self, identity, fn.path or "", True, fn)
        task = ActionTask(fn.invoke(ctx, checked), fn.path or "", self.db.clock)
        send: Any = None
        error: BaseException | None = None
        try:
            while True:
                frame.now_ms = self.db.clock.now_ms
                try:
                    step = run_guarded(frame, lambda s=send, e=error: task.advance(s, e))
                except StopIteration as done:
                    return done.value if raw else self.check_result(fn, done.value)
                except BaseException as exc:
                    raise self._app_error(fn, exc) from None
                try:
                    if step.kind == ACTION:
                        send = yield from self.action_process(step.fn, step.args, step.identity)  # type: ignore[arg-type]
                    else:
                        send = yield step
                    error = None
                except Exception as exc:  # not GeneratorExit: a driver that gives up closes us
                    send, error = None, exc
        finally:
            task.close()

    def run_step(self, step: Step) -> Any:
        """Perform one action step right away (the test handle's way of driving actions)."""
        if step.kind == QUERY:
            return self.call_query(step.fn, step.args, step.identity)[0]  # type: ignore[arg-type]
        if step.kind == MUTATION:
            return self.call_mutation(step.fn, step.args, step.identity)[0]  # type: ignore[arg-type]
        if step.kind == "vector_search":
            txn = self.db.begin(f"vector_search {step.args[0]}", read_only=True)
            try:
                return vector_search(txn, *step.args)
            finally:
                txn.abort()
        handler = self.service(f"step:{step.kind}")
        if handler is None and step.kind == SLEEP:  # no scheduler: time just passes
            self.db.clock.advance(step.payload)
            return None
        if handler is None:
            raise ConvexSimError(f"No handler for action step {step.kind!r}.")
        return handler(step)

    def call_action(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None) -> Any:
        """Run an action to completion, performing each step as it comes."""
        return self.drive(self.action_process(fn, args, identity))

    def drive(self, process: Generator[Step, Any, Any]) -> Any:
        """Run an action process to completion, performing each step at once."""
        def at_once(step: Step) -> Generator[Any, None, Any]:
            return self.run_step(step)
            yield  # a generator that never pauses  # pragma: no cover

        pumping = pump(process, at_once)
        try:
            next(pumping)
        except StopIteration as done:
            return done.value
        raise ConvexSimError("an action step paused outside the explorer")  # pragma: no cover

    # -- nested calls from queries and mutations ----------------------------------------------
    def nested(self, ctx: QueryCtx, kind: str, ref: Any, args: Any, *,
               transaction_limits: Mapping[str, Any] | None = None,
               use_stale_snapshot: bool = False) -> Any:
        """``ctx.run_query``/``ctx.run_mutation`` inside a query or mutation: same transaction
        (a savepoint for a mutation), as convex-backend's ``run_udf`` nests a subtransaction.

        ``transaction_limits`` lets the call use at most that much more of each figure (never
        above the transaction's own limits; the caller's limits come back afterwards).
        ``use_stale_snapshot`` (queries from mutations) reads the transaction's begin
        snapshot without its pending writes, and adds nothing to its read set."""
        fn = self.resolve(ref, kind, caller=ctx._function, ctx=ctx)
        checked = self.check_args(fn, args)
        if use_stale_snapshot and not isinstance(ctx, MutationCtx):
            raise WrongFunctionKindError(
                f"In {ctx._function}: `useStaleSnapshot` is only supported in mutations, not queries.")
        txn = ctx.txn.db.begin(fn.path or "", read_only=True, at_ts=ctx.txn.begin_ts) \
            if use_stale_snapshot else ctx.txn
        saved_limits, saved_page = txn.limits, txn.extras.pop("paginated", None)
        if transaction_limits is not None:
            txn.limits = ctx.txn.limits.budget(transaction_limits, txn.usage())
        mark = txn.savepoint() if kind == MUTATION else None
        cls = MutationCtx if kind == MUTATION else QueryCtx
        inner = cls(self, txn, self.identity_for(ctx, fn), fn.path or "", fn.is_async, fn)
        try:
            return self.check_result(fn, self._run_sync(fn, inner, checked))
        except BaseException as exc:
            if mark is not None:
                txn.rollback_to(mark)
            raise self._app_error(fn, exc) from None
        finally:
            txn.limits = saved_limits
            txn.extras.pop("paginated", None)  # each execution may paginate once
            if saved_page is not None:
                txn.extras["paginated"] = saved_page
            if use_stale_snapshot:
                txn.abort()

    @staticmethod
    def _run_sync(fn: ConvexFunction, ctx: Any, args: dict) -> Any:
        """Run a query/mutation handler; an ``async def`` one may await only ctx calls."""
        for observe in INVOKE_OBSERVERS:
            observe(fn)
        result = fn.invoke(ctx, args)
        if not fn.is_async:
            return result
        try:
            awaited = result.send(None)
        except StopIteration as done:
            return done.value
        result.close()
        what = "an event-loop awaitable (asyncio.sleep, a task, a future)" if awaited is None \
            or isinstance(awaited, asyncio.Future) else format_value(awaited)
        raise NondeterminismError(
            f"{fn.path} awaited {what}; queries and mutations may await only ctx calls "
            "(run_query, run_mutation). Timers and I/O belong in actions.")
