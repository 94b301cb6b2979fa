"""Stateful fuzzing: a Hypothesis state machine whose rules are the app's own functions.

::

    from convex_sim.hypothesis.stateful import ConvexStateMachine

    class Bank(ConvexStateMachine):
        functions = ["bank:open_account", "bank:transfer"]     # one rule each
        concurrent = ["bank:transfer_via_action"]              # drawn into concurrent batches
        fields = {"owner": owners, "src": owners, "dst": owners, "amount": st.integers(0, 100)}

        def make_sim(self):
            return ConvexSim(schema, modules="scenarios.bank")

        def check_invariant(self, ctx):                      # app state, after every commit
            assert all(a["balance"] >= 0 for a in ctx.db.query("accounts").collect())
        # or, for a TypeScript app, a query of its own (throws or returns false to fail):
        # invariant_query = "checks:noOverdraft"

        def on_call(self, path, args, result):               # keep a model up to date ...
            ...

        def check_model(self, sim):                          # ... and compare it, every step
            ...

    TestBank = Bank.TestCase

Each function in ``functions`` becomes a rule that calls it with arguments drawn from
its args validator (``fields`` overrides them by name); a rule whose arguments need an
ID of an empty table waits until the table has a document. With ``concurrent``, one more
rule draws a batch of up to ``max_concurrent`` calls and an interleaving, runs them with
``sim.run_schedule`` (the invariant after every commit, and the serializability check
unless ``check_serializable`` is False) and fails with the timeline if the schedule
fails; the machine then continues from the batch run serially in the order drawn, so
``on_call`` sees every call of the batch in that order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ..errors import ConvexError
from ..explore import invariant_of
from ..functions import ACTION, MUTATION, QUERY
from ..runtime import QueryCtx, run_guarded
from ..validators import IdValidator, Validator
from ._builtin import existing_ids
from ._ops import ops
from ._schedules import schedules
from ._values import args_for

_CALLS = {QUERY: "query", MUTATION: "mutation", ACTION: "action"}


def _id_tables(validator: Validator | None) -> set[str]:
    """Tables whose IDs ``validator`` may need (all of them must have a document)."""
    if validator is None:
        return set()
    if isinstance(validator, IdValidator):
        return {validator.table}
    found: set[str] = set()
    for child in vars(validator).values():
        children = child.values() if isinstance(child, Mapping) else (
            child if isinstance(child, tuple) else (child,))
        for item in children:
            if isinstance(item, Validator):
                found |= _id_tables(item)
    return found


def _ready(tables: set[str]) -> Callable[[Any], bool]:
    ordered = sorted(tables)
    return lambda machine: all(existing_ids(machine.sim, table) for table in ordered)


def _rule_name(path: str) -> str:
    return "call_" + "".join(c if c.isalnum() else "_" for c in path)


class ConvexStateMachine(RuleBasedStateMachine):
    """A :class:`~hypothesis.stateful.RuleBasedStateMachine` over a fresh simulator per run
    (:meth:`make_sim`), with one rule per function of ``functions`` and, if
    ``concurrent`` is set, a rule running concurrent batches under the explorer."""

    #: App functions called one at a time, each its own rule.
    functions: ClassVar[Sequence[str]] = ()
    #: App functions drawn into concurrent batches (one rule for all of them).
    concurrent: ClassVar[Sequence[str]] = ()
    #: The largest batch the concurrent rule draws.
    max_concurrent: ClassVar[int] = 3
    #: The longest interleaving (schedule choices) the concurrent rule draws.
    max_steps: ClassVar[int] = 24
    #: Per-field-name argument strategies, as for :func:`~convex_sim.hypothesis.args_for`.
    fields: ClassVar[Mapping[str, st.SearchStrategy[Any]]] = {}
    #: Whether a concurrent batch's outcome must equal some serial order's.
    check_serializable: ClassVar[bool] = True
    #: Exception types a concurrent batch's op may raise without failing the schedule.
    expected_errors: ClassVar[tuple[type[BaseException], ...]] = ()
    #: A query of the app checked as the invariant too, by its path (``"checks:noOversell"``:
    #: throws or returns false to fail), wherever :meth:`check_invariant` is.
    invariant_query: ClassVar[str | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.sim = self.make_sim()
        self._strategies: dict[Any, st.SearchStrategy[Any]] = {}

    def strategy_for(self, key: Any, build: Callable[[], st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
        """A strategy built once per run (building validates it, which costs per draw)."""
        found = self._strategies.get(key)
        if found is None:
            found = self._strategies[key] = build()
        return found

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for path in cls.__dict__.get("functions", ()):
            setattr(cls, _rule_name(path), _call_rule(path))
        if cls.__dict__.get("concurrent"):
            cls.run_concurrently = _concurrent_rule()

    # -- what a subclass provides ---------------------------------------------------------------
    def make_sim(self) -> Any:
        """A fresh simulator, seeded with the data every run starts from."""
        raise NotImplementedError(f"{type(self).__name__}: define make_sim(self) returning a ConvexSim")

    def check_invariant(self, ctx: Any) -> Any:
        """The app-state invariant: after every step, and after every commit of a concurrent
        batch. ``ctx`` is a read-only query context; raise or return False to fail."""
        return None

    def on_call(self, path: str, args: dict, result: Any) -> None:
        """Update a model after a call: ``result`` is the return value or the ConvexError."""

    def check_model(self, sim: Any) -> None:
        """Compare the model with ``sim`` after every step (raise to fail)."""

    # -- machinery ----------------------------------------------------------------------------
    def call(self, path: str, args: dict) -> Any:
        """Call ``path`` on the sim (ConvexError becomes the result) and tell :meth:`on_call`."""
        fn = self.sim.registry.resolve(path)
        method = _CALLS.get(fn.kind)
        if method is None:
            raise TypeError(f"ConvexStateMachine: {path} is an {fn.kind}; rules call queries, "
                            "mutations and actions")
        try:
            result = getattr(self.sim, method)(path, args)
        except ConvexError as exc:
            result = exc
        self.on_call(path, args, result)
        return result

    def _explorer_invariant(self) -> Callable[[Any], Any] | None:
        overridden = type(self).check_invariant is not ConvexStateMachine.check_invariant
        checks = [check for check in (self.check_invariant if overridden else None,
                                      invariant_of(self.sim, self.invariant_query)) if check is not None]
        if len(checks) < 2:
            return checks[0] if checks else None

        def both(ctx: Any) -> Any:
            return all(check(ctx) is not False for check in checks)

        return both

    @invariant()
    def _check_state(self) -> None:
        check = self._explorer_invariant()
        if check is not None:
            ctx = QueryCtx(self.sim.runtime, self.sim.db.begin("invariant", read_only=True), None,
                           "invariant", False)
            frame = self.sim.runtime.new_frame("invariant", QUERY)
            verdict = run_guarded(frame, lambda: check(ctx))
            assert verdict is not False, "check_invariant returned False"
        self.check_model(self.sim)


def _call_rule(path: str) -> Callable[..., None]:
    def call(self: ConvexStateMachine, data: st.DataObject) -> None:
        strategy = self.strategy_for(path, lambda: args_for(self.sim, path, fields=self.fields))
        args = data.draw(strategy, label=path)
        self.call(path, args)

    call.__name__ = _rule_name(path)
    call.__doc__ = f"Call {path} with drawn arguments."
    return rule(data=st.data())(precondition(_ready_for([path]))(call))


def _ready_for(paths: Sequence[str]) -> Callable[[Any], bool]:
    def ready(machine: ConvexStateMachine) -> bool:
        tables: set[str] = set()
        for path in paths:
            tables |= _id_tables(machine.sim.registry.resolve(path).args)
        return _ready(tables)(machine)

    return ready


def _concurrent_rule() -> Callable[..., None]:
    def run_concurrently(self: ConvexStateMachine, data: st.DataObject) -> None:
        workload = data.draw(self.strategy_for("workload", lambda: ops(
            self.sim, self.concurrent, max_ops=self.max_concurrent, fields=self.fields)), label="workload")
        choices = data.draw(self.strategy_for("schedule", lambda: schedules(max_steps=self.max_steps)),
                            label="schedule")
        run = self.sim.run_schedule(workload, choices, invariant=self._explorer_invariant(),
                                    check_serializable=self.check_serializable,
                                    expected_errors=self.expected_errors)
        assert run.ok, str(run)
        for op in workload:                 # continue from the batch run serially, in order
            self.call(op.ref, op.args)

    run_concurrently.__doc__ = "Run a drawn batch of concurrent calls under a drawn schedule."
    return rule(data=st.data())(precondition(lambda m: _ready_for(m.concurrent)(m))(run_concurrently))
