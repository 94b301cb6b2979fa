"""``ConvexSim``: the test handle.

One simulator is one deployment: a database, a virtual clock, the app's
functions. Create one per test; it is cheap::

    sim = ConvexSim(schema, modules="myapp", seed=0)
    sim.mutation("bank:deposit", {"owner": "ada", "amount": 10})
    assert sim.query("bank:balance", {"owner": "ada"}) == 10
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from .auth import AuthError, AuthService
from .clock import DEFAULT_START_MS, VirtualClock, check_duration
from .database import Database
from .errors import ConvexError, ConvexSimError, hide_simulator_frames
from .files import STORAGE, STORAGE_TABLE, FileStorage
from .functions import (
    ACTION,
    INTERNAL,
    MUTATION,
    PUBLIC,
    QUERY,
    ConvexFunction,
    Registry,
    _Namespace,
    discover,
)
from .hooks import commit_listener
from .http import CLOUD_ORIGIN, SITE_ORIGIN, HttpRouter, deployment_env, not_found
from .limits import TransactionLimits, UserCodeLimits
from .runtime import Runtime, UserIdentity, WeakService, make_identity
from .scheduler import SCHEDULED_FUNCTIONS, SCHEDULED_FUNCTIONS_TABLE, SchedulerService
from .schema import SchemaDefinition
from .steps import SLEEP
from .subscriptions import Client, SubscriptionManager
from .values import format_value

if TYPE_CHECKING:
    from .js import Project

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours


class CallRecord(NamedTuple):
    """One top-level call made through the handle, once it returned or raised, for failure
    reports and traces. (A tuple, made in C when the call ends: cheap to keep.)"""

    kind: str
    path: str
    args: Any
    identity: str | None
    outcome: str = "ok"        # "ok" | "ConvexError" | "error"
    result: Any = None
    error: str | None = None
    logs: Sequence[str] = ()   # what app code printed (console.log)

    def __str__(self) -> str:
        who = f" as {self.identity}" if self.identity else ""
        head = f"{self.kind} {self.path}({format_value(self.args, 200)}){who}"
        text = f"{head} -> {format_value(self.result, 200)}" if self.outcome == "ok" else f"{head} !! {self.error}"
        return "\n".join([text, *(f"       {line}" for line in self.logs)])


#: The call kinds whose runtime call returns ``(result, the snapshot or commit it ran at)``.
_PAIRED = frozenset({QUERY, MUTATION, "run"})
#: A CallRecord from a tuple of its fields, without the NamedTuple's Python-level ``__new__``.
_new_record = functools.partial(tuple.__new__, CallRecord)


class CallLog:
    """The calls made through a handle, oldest first: the latest ``limit`` are kept (what a
    failure report shows), so a million-call run does not keep a million records.

    ``total`` counts every call; ``dropped`` the records no longer kept. Indexing and
    iteration see the kept records.
    """

    #: How many call records a simulator keeps.
    LIMIT = 10_000

    def __init__(self, limit: int = LIMIT) -> None:
        self._records: deque[CallRecord] = deque(maxlen=limit)
        self.total = 0

    def append(self, record: CallRecord) -> None:
        self._records.append(record)
        self.total += 1

    @property
    def dropped(self) -> int:
        return self.total - len(self._records)

    def truncate(self, total: int) -> None:
        """Forget the calls after the first ``total`` (a state restored to that point)."""
        for _ in range(min(self.total - total, len(self._records))):
            self._records.pop()
        self.total = min(self.total, total)

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self._records)

    def __getitem__(self, index: int) -> CallRecord:
        return self._records[index]

    def __repr__(self) -> str:
        return f"<CallLog {self.total} calls, last {len(self._records)} kept>"


@dataclass(frozen=True)
class SimState:
    """A point to return to with :meth:`ConvexSim.restore_state`."""

    db: Any
    clock_ms: float
    runtime: Any
    scheduler: Any
    storage: Any
    calls: int
    identities: int
    subscriptions: Any


class _Caller:
    """The calls a handle can make, as one identity (or none)."""

    _sim: ConvexSim
    _identity: UserIdentity | None
    _scope: Any = None   # a component instance: calls resolve in it (see ComponentHandle)

    def query(self, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        """Run a query at the latest snapshot and return its result."""
        sim = self._sim
        fn = sim.runtime.resolve(ref, QUERY, ctx=self._scope_ctx())
        identity = self._identity
        return sim._record(QUERY, fn.path, args, identity, sim.runtime.call_query, fn, args, identity)

    def mutation(self, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        """Run a mutation (committing it, with OCC retries) and return its result."""
        sim = self._sim
        fn = sim.runtime.resolve(ref, MUTATION, ctx=self._scope_ctx())
        identity = self._identity
        return sim._record(MUTATION, fn.path, args, identity, sim.runtime.call_mutation, fn, args, identity)

    def action(self, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        """Run an action to completion (each awaited ctx call runs at once) and return its result."""
        sim = self._sim
        fn = sim.runtime.resolve(ref, ACTION, ctx=self._scope_ctx())
        identity = self._identity
        return sim._record(ACTION, fn.path, args, identity, sim.runtime.call_action, fn, args, identity)

    async def action_async(self, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        """``await``-able flavour of :meth:`action`, for async test code.

        The action runs to completion on a worker thread (its own event loop),
        while the caller's loop waits for it.
        """
        return await asyncio.to_thread(self.action, ref, args)

    def run(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(ctx)`` as ad-hoc code inside a mutation (a ``MutationCtx``), and commit it."""
        sim = self._sim
        adhoc = ConvexFunction(MUTATION, INTERNAL, lambda ctx, _args: fn(ctx), None, None)
        adhoc.is_async = inspect.iscoroutinefunction(fn)
        adhoc.path = "sim.run"
        if self._scope is not None:
            adhoc.component = self._scope  # type: ignore[attr-defined]
        body = lambda ctx: Runtime._run_sync(adhoc, ctx, {})  # noqa: E731
        identity = self._identity
        return sim._record("run", "sim.run", {}, identity, sim.runtime.call_mutation, adhoc, {}, identity, body)

    def _scope_ctx(self) -> Any:
        """For a component's handle: a stand-in ctx whose calls resolve inside the component."""
        if self._scope is None:
            return None
        return _ScopeCtx(self._scope, f"sim.component({self._scope.path!r})")

    def subscribe(self, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        """Subscribe to a query as this handle's identity; returns a live
        :class:`~convex_sim.subscriptions.Subscription` (``value``, ``timestamp``, ``history``)."""
        return self._sim._handle_client(self._identity).subscribe(ref, args)

    def with_token(self, token: str) -> IdentityHandle:
        """A handle whose calls carry ``token`` (an OIDC JWT), validated against the sim's
        ``auth_providers`` now and at every call; a bad token raises :class:`AuthError`."""
        sim = self._sim
        sim.auth.identity(token)  # fail now, with the reason
        return IdentityHandle(sim, None, token=token)

    def fetch(self, url: str, method: str = "GET", *, json: Any = None, content: bytes | str | None = None,
              headers: Mapping[str, str] | None = None) -> httpx.Response:
        """Send an HTTP request to the deployment: HTTP actions, upload URLs and file URLs.

        ``url`` is a path (``"/webhook"``) or a full URL the simulator handed out.
        """
        return self._sim._fetch(url, method, json, content, headers, self._identity)

    def with_identity(self, **fields: Any) -> IdentityHandle:
        """A handle whose calls are made as the user described by ``fields``.

        ``subject``, ``issuer`` and ``token_identifier`` (``"{issuer}|{subject}"``)
        are filled in when missing.
        """
        sim = self._sim
        sim._identity_counter += 1
        identity = make_identity(fields, default_subject=f"user{sim._identity_counter}")
        return IdentityHandle(sim, identity)


@dataclass
class _ScopeCtx:
    """What resolving a call needs of a ctx: the component it runs in, and identity."""

    _scope: Any
    _function: str
    _identity: None = None


class ComponentHandle(_Caller):
    """``sim.component("limiter_a")``: calls and ad-hoc code (``run``) inside an installed
    component, with no identity; paths are the component's own (``"lib:check"``)."""

    def __init__(self, sim: ConvexSim, instance: Any) -> None:
        self._sim, self._scope, self._identity = sim, instance, None

    def subscribe(self, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        """Not here: clients subscribe to the app's queries (which may call components)."""
        raise ConvexSimError(
            f"sim.component({self._scope.path!r}).subscribe({ref!r}): clients reach no component "
            "function; subscribe to an app query that calls it (sim.subscribe(...)).")

    def __repr__(self) -> str:
        return f"<ConvexSim handle in component {self._scope.path}>"


class IdentityHandle(_Caller):
    """The handle ``sim.with_identity(...)``/``sim.with_token(...)`` returns: the same
    simulator, another caller."""

    def __init__(self, sim: ConvexSim, identity: UserIdentity | None, token: str | None = None) -> None:
        self._sim, self._fixed, self._token = sim, identity, token

    @property
    def _identity(self) -> UserIdentity | None:  # type: ignore[override]
        if self._token is not None:
            return self._sim.auth.identity(self._token)  # re-checked: the clock may have moved
        return self._fixed

    @property
    def identity(self) -> UserIdentity:
        return self._identity  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<ConvexSim handle as {self.identity.subject}>"


class ConvexSim(_Caller):
    """A simulated Convex deployment for tests.

    :param schema: the app's ``define_schema(...)``, or None for no schema.
    :param modules: the app package to discover functions in (``"myapp"``), or a
        :class:`~convex_sim.functions.Registry`.
    :param seed: makes IDs, ``random`` in app code, and everything else reproducible.
    :param start_time_ms: where the virtual clock starts (default 2024-01-01T00:00:00Z).
    :param auth_providers: OIDC providers, ``{"domain", "application_id", "jwks"?}`` each
        (``TestIssuer(...).provider`` is one).
    :param transaction_limits: per-transaction limits for this simulator, a dict of some
        :class:`~convex_sim.limits.TransactionLimits` fields (``{"documents_read": 100}``)
        over Convex's defaults.
    :param user_code_limits: the time and memory app code may use per call, a dict of some
        :class:`~convex_sim.limits.UserCodeLimits` fields (``{"query_seconds": 0.2}``) over
        Convex's defaults (1 s queries and mutations, 10 min actions, 64 MiB).
    :param app: ``define_app()`` with the components the app installs (default: ``app`` of
        the app package's ``convex_config`` module, if there is one); see docs/components.md.
    """

    @property
    def _sim(self) -> ConvexSim:  # type: ignore[override]
        return self  # the handle is its own simulator (a property: no reference cycle to collect)

    #: Where ``sim.fetch`` finds HTTP actions, and where storage URLs point.
    SITE_ORIGIN = SITE_ORIGIN
    CLOUD_ORIGIN = CLOUD_ORIGIN

    def __init__(self, schema: SchemaDefinition | None = None, modules: str | Registry | None = None,
                 *, seed: int = 0, start_time_ms: float = DEFAULT_START_MS,
                 auth_providers: list[Mapping[str, Any]] | None = None,
                 transaction_limits: TransactionLimits | Mapping[str, Any] | None = None,
                 app: Any = None,
                 user_code_limits: UserCodeLimits | Mapping[str, Any] | None = None) -> None:
        if schema is not None and not isinstance(schema, SchemaDefinition):
            raise TypeError(f"ConvexSim: schema must come from define_schema(...), got {schema!r}")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"ConvexSim: seed must be an int, got {seed!r}")
        self._identity = None
        self.seed = seed
        self.schema = schema
        self._clock = VirtualClock(start_time_ms)
        self.db = Database(schema, seed=seed, clock=self._clock, system_tables={
            SCHEDULED_FUNCTIONS: SCHEDULED_FUNCTIONS_TABLE, STORAGE: STORAGE_TABLE})
        self.db.limits = TransactionLimits.of(transaction_limits)
        if modules is None or isinstance(modules, Registry):
            self.registry = modules or Registry()
        else:
            self.registry = discover(modules)
        if app is None:   # the app package's convex_config.py, as convex/convex.config.ts
            app = getattr(self.registry.modules.get("convex_config"), "app", None)
        #: The installed components (``convex_sim.component.ComponentTree``), or None.
        self.components: Any = None
        if app is not None:
            from .component import install

            self.registry, self.components = install(app, self.registry, self.db)
        self.runtime = Runtime(self.db, self.registry, seed=seed)
        self.runtime.user_code_limits = UserCodeLimits.of(user_code_limits)
        self.runtime.components = self.components
        self.runtime.provide_service = WeakService(self._provide_service)
        if getattr(self.registry.modules.get("crons"), "crons", None) is not None:
            self.scheduler  # noqa: B018 (cron jobs count from the simulator's start)
        self._auth_providers = auth_providers or []
        if self._auth_providers:
            self.auth  # noqa: B018 (checks the providers now, with a clear error)
        self._handle_clients: dict[str | None, Client] = {}
        router = getattr(self.registry.modules.get("http"), "http", None)
        self.http: HttpRouter | None = router if isinstance(router, HttpRouter) else None
        self.calls = CallLog()
        self.explorations: list[Any] = []
        self._last_exploration: tuple[Any, dict] | None = None
        self._identity_counter = 0
        #: The TypeScript project this simulator runs (see :meth:`from_project`), else None.
        self.project: Any = None
        self._recorder: Any = None   # the trace being recorded (see :meth:`record`)
        listener = commit_listener(self)     # plugins' convex_sim_on_commit, if any implement it
        if listener is not None:
            self.db.commit_listeners.append(listener)

    @functools.cached_property
    def auth(self) -> AuthService:
        """Identities from tokens, checked against ``auth_providers`` (built on first use)."""
        return AuthService(self._auth_providers, functools.partial(getattr, self._clock, "now_ms"))

    @functools.cached_property
    def subscriptions(self) -> SubscriptionManager:
        """Subscribed queries and their clients (built on first use)."""
        return SubscriptionManager(self.runtime)

    @functools.cached_property
    def scheduler(self) -> SchedulerService:
        """Scheduled functions and cron jobs (built on first use)."""
        return SchedulerService(self.runtime, getattr(self.registry.modules.get("crons"), "crons", None))

    @functools.cached_property
    def storage(self) -> FileStorage:
        """File storage (built on first use)."""
        return FileStorage(self.runtime, self.CLOUD_ORIGIN, self.seed)

    def _provide_service(self, name: str) -> None:
        """Build the service that registers ``name`` (see ``Runtime.provide_service``)."""
        if name == "scheduler" or name.startswith("step:scheduler.") or name == f"step:{SLEEP}":
            self.scheduler  # noqa: B018
        elif name == "storage" or name.startswith("step:storage."):
            self.storage  # noqa: B018

    @classmethod
    def from_project(cls, path: str | os.PathLike[str] | Project, *, seed: int = 0,
                     start_time_ms: float = DEFAULT_START_MS,
                     auth_providers: list[Mapping[str, Any]] | None = None,
                     env: Mapping[str, str] | None = None,
                     transaction_limits: TransactionLimits | Mapping[str, Any] | None = None,
                     user_code_limits: UserCodeLimits | Mapping[str, Any] | None = None) -> ConvexSim:
        """A simulator running a Convex project's own TypeScript ``convex/`` folder.

        ``path`` holds ``convex/`` and ``node_modules/`` (``npm install`` done). The folder is
        bundled with the project's esbuild (cached by content) and loaded once per process;
        each simulator gets its own database. ``auth_providers`` default to
        ``convex/auth.config.ts``; ``env`` is what the app reads as ``process.env``, from the
        moment its modules load (``CONVEX_CLOUD_URL`` and ``CONVEX_SITE_URL`` default to this
        simulator's origins, see :meth:`default_env`).

        ``path`` may also be a project already loaded (``convex_sim.js.load_project(path)``):
        then the folder is not checked for edits, as ``convexTest(schema, modules)`` takes
        modules already globbed. Suites that make many simulators load once.
        """
        from .js import Project, load_project

        if isinstance(path, Project):
            project = path
            env = {**project.env, **(env or {})}
        else:
            project = load_project(path, env=env)
            env = dict(project.env)  # the simulator's own: editing it leaves the project's
        providers = auth_providers if auth_providers is not None else project.auth_providers
        sim = cls(project.schema, project.registry, seed=seed, start_time_ms=start_time_ms,
                  auth_providers=providers, transaction_limits=transaction_limits, app=project.app,
                  user_code_limits=user_code_limits)
        sim.runtime.env = env
        sim.project = project
        return sim

    @staticmethod
    def default_env() -> dict[str, str]:
        """The variables every Convex deployment has: ``CONVEX_CLOUD_URL`` and ``CONVEX_SITE_URL``
        (the simulator's origins, where its storage URLs and ``fetch`` answer)."""
        return deployment_env()

    def component(self, path: str) -> ComponentHandle:
        """A handle on the component installed at ``path`` (``"limiter_a"``, ``"outer/inner"``):
        ``query``/``mutation``/``action`` of its functions and ``run(fn)`` in its namespace,
        so a test can inspect or seed a component's own tables."""
        if self.components is None:
            raise ConvexSimError(f"sim.component({path!r}): this simulator installs no components "
                                 "(pass app=define_app() with app.use(...)).")
        return ComponentHandle(self, self.components.instance(path))

    # -- time ---------------------------------------------------------------------------
    @property
    def clock(self) -> float:
        """The virtual time in ms since the epoch."""
        return self._clock.now_ms

    @property
    def allow_network(self) -> bool:
        """Whether actions may make outbound HTTP requests that no mock (respx) answers. True by
        default; the pytest ``convex`` fixture sets it False (see docs/http.md)."""
        return self.runtime.allow_network

    @allow_network.setter
    def allow_network(self, allowed: bool) -> None:
        if not allowed:
            from . import offline

            offline.install()
        self.runtime.allow_network = bool(allowed)

    def advance_time(self, ms: float) -> float:
        """Move the virtual clock forward by ``ms``, running every scheduled function (and cron
        run) that becomes due, in due-time order; return the new time."""
        target = self._clock.now_ms + check_duration(ms, self._clock.now_ms)
        self.scheduler.advance_to(target)
        return self._clock.now_ms

    def finish_in_progress_scheduled_functions(self, max_iterations: int = 100, *,
                                               allow_failures: bool = False) -> int:
        """Run the scheduled functions already due (and those they make due now); return how
        many ran. A job that fails raises :class:`~convex_sim.scheduler.ScheduledFunctionFailed`
        afterwards, unless ``allow_failures``."""
        return self._finishing(allow_failures, lambda: self.scheduler.advance_to(
            self._clock.now_ms, max_jobs=max_iterations))

    def finish_all_scheduled_functions(self, max_iterations: int = 100, *,
                                       allow_failures: bool = False) -> int:
        """Advance the clock through every pending scheduled function, including the ones they
        schedule, until none is left; a chain longer than ``max_iterations`` raises
        :class:`~convex_sim.scheduler.SchedulerError` naming the chain. Returns how many ran.
        Jobs that fail raise :class:`~convex_sim.scheduler.ScheduledFunctionFailed` (listing
        each) once all have run, unless ``allow_failures``."""
        return self._finishing(allow_failures, lambda: self.scheduler.finish_all(max_iterations))

    def _finishing(self, allow_failures: bool, run: Callable[[], int]) -> int:
        mark = len(self.scheduler.failures)
        ran = run()
        failed = None if allow_failures else self.scheduler.failed_since(mark)
        if failed is not None:
            raise failed
        return ran

    def scheduled(self) -> list[dict]:
        """Every row of ``_scheduled_functions``, oldest first."""
        return self.scheduler.jobs()

    # -- clients -------------------------------------------------------------------------------
    def client(self, identity: UserIdentity | Mapping[str, Any] | None = None) -> Client:
        """A simulated browser connection: ``subscribe``, ``subscribe_paginated``, ``query``,
        ``mutation`` (with ``optimistic_update=``), ``action``, ``disconnect``/``reconnect``.
        It may call public functions only. ``identity`` is a UserIdentity or its fields."""
        if isinstance(identity, Mapping):
            identity = self.with_identity(**identity).identity
        return self.subscriptions.client(identity)

    def _handle_client(self, identity: UserIdentity | None) -> Client:
        key = identity.token_identifier if identity else None
        client = self._handle_clients.get(key)
        if client is None:
            client = self._handle_clients[key] = self.subscriptions.client(identity)
        return client

    # -- concurrency exploration -------------------------------------------------------------
    def explore(self, ops: Sequence[Any], invariant: Callable[[Any], Any] | str | None = None, *,
                check_serializable: bool = True, strategy: str = "exhaustive",
                max_schedules: int | None = None, seed: int | None = None,
                setup: Callable[[ConvexSim], Any] | None = None,
                expected_errors: Iterable[type[BaseException]] = (), reduction: bool = True,
                check_subscriptions: bool = True, check_history: bool = True,
                compare: str = "auto", pct_depth: int = 3, fail_on_contention: bool = False,
                shard: tuple[int, int] | None = None) -> Any:
        """Run ``ops`` (``Op``/``Flow``) concurrently under many schedules; return an
        :class:`~convex_sim.explore.ExplorationResult`. The sim's state is unchanged afterwards.

        ``invariant(ctx)`` runs after every commit (raise or return False to fail); a string
        names a query of the app instead (``"checks:noOversell"``: throw or return false);
        ``check_serializable`` demands that each outcome equal some serial order's, comparing
        what ``compare`` says (``"auto"``: the final state and the results of single-transaction
        ops; ``"both"``, ``"state"``, ``"results"``); ``check_history`` checks each schedule's
        committed transactions for dependency cycles (docs/checking.md);
        ``strategy`` is ``"exhaustive"`` (with partial-order reduction unless
        ``reduction=False``), ``"random"`` or ``"pct"``; ``setup(sim)`` runs before each schedule;
        ``check_subscriptions`` checks what every subscribed client was shown in each schedule.
        An operation starved into ``ContentionError`` by a schedule is reported in
        ``result.contention``, not as a failure, unless ``fail_on_contention=True``.
        ``shard=(i, n)`` runs shard ``i`` of ``n`` of the exploration: the shards' schedule sets
        are disjoint and their union is the unsharded run's (docs/exploring.md).
        """
        from .explore import explore, invariant_of
        from .hooks import with_checkers

        invariant = with_checkers(self, invariant_of(self, invariant))   # + plugins' checkers
        return explore(self, ops, invariant=invariant, check_serializable=check_serializable,
                       strategy=strategy, max_schedules=max_schedules, seed=seed, setup=setup,
                       expected_errors=expected_errors, reduction=reduction, pct_depth=pct_depth,
                       check_subscriptions=check_subscriptions, check_history=check_history,
                       compare=compare, fail_on_contention=fail_on_contention, shard=shard)

    def replay_schedule(self, schedule: str, ops: Sequence[Any] | None = None, **options: Any) -> Any:
        """Re-run one schedule (a counterexample's ``.schedule``) from the current state.

        ``ops`` and the checks default to those of this sim's last exploration.
        Returns a :class:`~convex_sim.explore.ScheduleRun`.
        """
        from .explore import ExplorationError, make_explorer, replay
        from .hooks import options_with_checkers

        if ops is None:
            if self._last_exploration is None:
                raise ExplorationError("replay_schedule: pass ops=, or call explore() on this sim first.")
            ops, remembered = self._last_exploration
            options = {**remembered, **options}
        options = options_with_checkers(self, self._named_invariant(options))
        return replay(make_explorer(self, ops, **options), schedule)

    def run_schedule(self, ops: Sequence[Any], choices: Sequence[int], **options: Any) -> Any:
        """Run ``ops`` following ``choices`` (op indices; out-of-range ones wrap around) and
        return the :class:`~convex_sim.explore.ScheduleRun`. For Hypothesis: see
        :func:`convex_sim.hypothesis.schedules`; for ops drawn by
        :func:`convex_sim.hypothesis.ops`, choices name the ops' slots."""
        from .explore import expand, make_explorer, replay, schedule_string
        from .hooks import options_with_checkers

        options = options_with_checkers(self, self._named_invariant(options))
        if hasattr(ops, "choices_for"):       # a convex_sim.hypothesis Workload: choices name slots
            choices = ops.choices_for(choices)
        n = len(expand(ops))                  # a frontend is several operations (its lanes)
        return replay(make_explorer(self, ops, **options), schedule_string([c % n for c in choices]) if choices else "")

    def _named_invariant(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` with an ``invariant`` given as a query's path made a callable."""
        from .explore import invariant_of

        return {**options, "invariant": invariant_of(self, options.get("invariant"))}

    def _remember_exploration(self, explorer: Any, result: Any) -> None:
        self._last_exploration = (explorer.ops, dict(explorer.options))
        self.explorations.append(result)

    # -- whole-simulator snapshots (the explorer rewinds to them) ---------------------------
    def capture_state(self) -> SimState:
        """Everything a run can change, cheaply: an MVCC rewind point plus counters."""
        return SimState(self.db.snapshot(), self._clock.now_ms, self.runtime.capture(),
                        self.scheduler.capture(), self.storage.capture(), self.calls.total,
                        self._identity_counter, self.subscriptions.capture())

    def restore_state(self, state: SimState) -> None:
        """Return to a state from :meth:`capture_state` (undoing later commits)."""
        self.db.rewind(state.db)
        self._clock.now_ms = state.clock_ms
        self.runtime.restore(state.runtime)
        self.scheduler.restore(state.scheduler)
        self.storage.restore(state.storage)
        self.calls.truncate(state.calls)
        self._identity_counter = state.identities
        self.subscriptions.restore(state.subscriptions)

    # -- HTTP ------------------------------------------------------------------------------
    def _fetch(self, url: str, method: str, json_body: Any, content: Any, headers: Any,
               identity: UserIdentity | None) -> httpx.Response:
        full = url if "://" in url else f"{self.SITE_ORIGIN}{url if url.startswith('/') else '/' + url}"
        request = httpx.Request(method.upper(), full, json=json_body, content=content, headers=headers)
        label = f"{request.method} {request.url.path}"
        return self._record("http", label, json_body if json_body is not None else content, identity,
                            lambda: self._serve(request, identity))

    def _serve(self, request: httpx.Request, identity: UserIdentity | None) -> httpx.Response:
        if self.storage.handles(request):
            return self.storage.serve(request)
        route = self.http.lookup(request.method, request.url.path) if self.http else None
        if route is None:
            return not_found(request)
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            try:
                identity = self.auth.identity(bearer[len("Bearer "):])
            except AuthError as exc:
                return httpx.Response(401, text=str(exc), request=request)
        process = self.runtime.action_process(route.handler, request, identity, raw=True)
        try:
            response = self.runtime.drive(process)
        except Exception as exc:  # Convex answers 500; the test can still see what was raised
            return httpx.Response(500, text=f"{type(exc).__name__}: {exc}", request=request,
                                  extensions={"convex_sim_error": exc})
        if not isinstance(response, httpx.Response):
            raise TypeError(f"HTTP action {route.handler.path} returned {format_value(response)}; "
                            "it must return an httpx.Response.")
        response.request = request
        return response

    # -- traces and snapshots --------------------------------------------------------------
    def record(self, path: str | os.PathLike[str]) -> Any:
        """Record every call, HTTP request, clock move, scheduled run and outbound fetch to
        the JSON Lines trace at ``path`` while the ``with`` block runs (docs/trace-format.md)."""
        from .trace import Recorder

        return Recorder(self, path)

    def replay(self, trace: str | os.PathLike[str], *, keep_going: bool = False) -> Any:
        """Replay a trace from this simulator's current state; return a
        :class:`~convex_sim.trace.ReplayReport` (``ok``, ``first`` divergence)."""
        from .trace import replay

        return replay(self, trace, keep_going=keep_going)

    def load_snapshot(self, path: str | os.PathLike[str], **caps: int) -> dict[str, int]:
        """Load a Convex snapshot export ZIP (``npx convex export``); return documents per table.
        ``max_bytes`` and ``max_member_bytes`` raise the size caps (docs/trace-format.md)."""
        from .trace import load_snapshot

        return load_snapshot(self, path, **caps)

    def export_snapshot(self, path: str | os.PathLike[str]) -> Any:
        """Write the tables and stored files as a Convex snapshot export ZIP at ``path``."""
        from .trace import export_snapshot

        return export_snapshot(self, path)

    # -- references ----------------------------------------------------------------------
    @property
    def api(self) -> Any:
        """References to public functions: ``sim.api.bank.transfer``."""
        return _Namespace(self.registry, PUBLIC)

    @property
    def internal(self) -> Any:
        """References to internal functions: ``sim.internal.bank.debit``."""
        return _Namespace(self.registry, INTERNAL)

    # -- bookkeeping ---------------------------------------------------------------------
    def _record(self, kind: str, path: str | None, args: Any, identity: UserIdentity | None,
                call: Callable[..., Any], *call_args: Any) -> Any:
        """``call(*call_args)``, recorded in :attr:`calls` with its outcome and console output.
        Query and mutation calls return ``(result, what it ran at)``: the result is kept."""
        runtime = self.runtime
        outside, runtime.logs = runtime.logs, []   # this call's console output
        outcome, result, error = "ok", None, None
        try:
            result = call(*call_args)
            if kind in _PAIRED:
                result = result[0]
            return result
        except ConvexError as exc:
            outcome, error = "ConvexError", f"ConvexError({format_value(exc.data, 200)})"
            raise
        except BaseException as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            logs, runtime.logs = runtime.logs, outside
            self.calls.append(_new_record((kind, path or "?", args, identity.subject if identity else None,
                                           outcome, result, error, logs or ())))

    def __repr__(self) -> str:
        return f"<ConvexSim seed={self.seed} ts={self.db.latest_ts} clock={self.clock:.0f}>"

