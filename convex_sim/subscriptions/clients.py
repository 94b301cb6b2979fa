"""Query instances, subscriptions, simulated clients and the manager that re-runs what a
commit touched and delivers one transition per commit timestamp to each client."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from ..database import Commit, Pin, ReadRange
from ..errors import hide_simulator_frames
from ..functions import ACTION, MUTATION, QUERY, ConvexFunction
from ..runtime import Runtime, UserIdentity, stable_seed
from ..values import format_value
from .index import RangeIndex
from .transitions import (
    KEEP_HISTORY,
    KEEP_TRANSITIONS,
    SubscriptionError,
    Transition,
    TransitionLog,
    canonical_text,
    check_keep,
)

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours


# --- Query instances, subscriptions, clients -------------------------------------------------------


class QueryInstance:
    """One shared execution of a query for all identical subscriptions."""

    _ids = itertools.count(1)

    def __init__(self, key: tuple, fn: ConvexFunction, args: dict, identity: UserIdentity | None) -> None:
        self.number = next(self._ids)
        self.key, self.fn, self.args, self.identity = key, fn, args, identity
        self.value: Any = None
        self.error: BaseException | None = None
        self.ts = -1
        self.reads: list[ReadRange] = []
        #: What the latest execution printed (console.log): not the committing call's output.
        self.logs: list[str] = []
        self.subscriptions: dict[int, Subscription] = {}

    @property
    def canonical(self) -> str:
        if self.error is not None:
            return f"error:{type(self.error).__name__}:{self.error}"
        return canonical_text(self.value)


class Subscription:
    """A live query: ``value`` (or ``error``), ``timestamp``, ``history``, ``on_change``."""

    _ids = itertools.count(1)

    def __init__(self, client: Client, instance: QueryInstance) -> None:
        self.id = next(self._ids)
        self.client = client
        self.instance = instance
        self.server_value: Any = None
        self.server_error: BaseException | None = None
        #: ``(ts, value)`` per change shown (ts None: optimistic), the latest ``client.keep_history``.
        self.history: list[tuple[int | None, Any]] = []
        self.history_dropped = 0   # entries let go from the front of ``history``
        self._callbacks: list[Callable[[Any], Any]] = []
        self._shown: str | None = None
        self.active = True

    @property
    def timestamp(self) -> int | None:
        """The timestamp of the client's latest transition: all its subscriptions share it."""
        return self.client.ts

    @property
    def path(self) -> str:
        return self.instance.fn.path or "?"

    @property
    def args(self) -> dict:
        return self.instance.args

    @property
    def value(self) -> Any:
        """The result the client shows: the server's, or an optimistic update's."""
        override = self.client._optimistic_value(self)
        if override is not _NOTHING:
            return override
        if self.server_error is not None:
            return None
        return self.server_value

    @property
    def error(self) -> BaseException | None:
        """The error the query raised at the latest transition (cleared when it recovers)."""
        return self.server_error

    def on_change(self, callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Call ``callback(value)`` whenever the shown value changes; returns it (a decorator)."""
        self._callbacks.append(callback)
        return callback

    def unsubscribe(self) -> None:
        if self.active:
            self.active = False
            self.client._drop(self)

    def _show(self, ts: int | None) -> None:
        """Record the shown value if it changed; tell the callbacks."""
        shown = f"error:{self.server_error}" if self.server_error is not None and \
            self.client._optimistic_value(self) is _NOTHING else canonical_text(self.value)
        if shown != self._shown:
            self._shown = shown
            self.history.append((ts, self.value))
            self._trim_history()
            for callback in list(self._callbacks):
                callback(self.value)

    def _trim_history(self) -> None:
        keep = self.client.keep_history
        excess = len(self.history) - keep if keep is not None and not self.client.manager.holding else 0
        if excess > 0:
            del self.history[:excess]
            self.history_dropped += excess

    def __repr__(self) -> str:
        return f"<Subscription {self.path}({format_value(self.args)}) ts={self.timestamp}>"


_NOTHING = object()


class OptimisticStore:
    """What an ``optimistic_update`` gets: the client's local query results, editable."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def get_query(self, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        sub = self._client._find(ref, args)
        return None if sub is None else sub.value

    def set_query(self, ref: Any, args: Mapping[str, Any] | None, value: Any) -> None:
        sub = self._client._find(ref, args)
        if sub is not None:
            self._client._layers[-1][sub.id] = value


class PaginatedSubscription:
    """``usePaginatedQuery``: pages whose boundaries stay put as rows come and go."""

    def __init__(self, client: Client, ref: Any, args: Mapping[str, Any], initial_num_items: int,
                 opts_arg: str) -> None:
        self._client, self._ref, self._args, self._opts_arg = client, ref, dict(args), opts_arg
        self.pages: list[Subscription] = []
        self.pages.append(self._add_page(None, initial_num_items))

    def _add_page(self, cursor: str | None, num_items: int, end_cursor: str | None = None) -> Subscription:
        opts: dict[str, Any] = {"num_items": num_items, "cursor": cursor}
        if end_cursor is not None:
            opts["end_cursor"] = end_cursor
        page = self._client.subscribe(self._ref, {**self._args, self._opts_arg: opts})
        if not isinstance(page.value, dict) or "continue_cursor" not in page.value:
            raise SubscriptionError(
                f"subscribe_paginated({page.path}): the query must return ctx.db.query(...).paginate(...) "
                f"and take its options as the {self._opts_arg!r} argument.")
        return page

    @property
    def results(self) -> list[Any]:
        return [item for page in self.pages for item in (page.value or {}).get("page", [])]

    @property
    def status(self) -> str:
        """``"CanLoadMore"`` or ``"Exhausted"``."""
        last = self.pages[-1].value or {}
        return "Exhausted" if last.get("is_done") else "CanLoadMore"

    def load_more(self, num_items: int) -> bool:
        """Add a page after the last one, pinning the last one's end; False when exhausted."""
        last = self.pages[-1]
        if (last.value or {}).get("is_done"):
            return False
        end = last.value["continue_cursor"]
        opts = last.args[self._opts_arg]
        pinned = self._add_page(opts["cursor"], opts["num_items"], end_cursor=end)
        last.unsubscribe()
        self.pages[-1] = pinned
        self.pages.append(self._add_page(end, num_items))
        return True


class Client:
    """One simulated connection (a browser tab running the Convex client)."""

    _ids = itertools.count(1)

    def __init__(self, manager: SubscriptionManager, identity: UserIdentity | None) -> None:
        self.id = next(self._ids)
        self.manager, self.identity = manager, identity
        self.subscriptions: dict[int, Subscription] = {}
        #: The transitions received: the latest ``keep_transitions`` are kept.
        self.transitions = TransitionLog()
        self._keep_transitions = manager.keep_transitions
        self._keep_history = manager.keep_history
        self.ts: int | None = None
        self.connected = True
        self._layers: list[dict[int, Any]] = []   # optimistic updates, oldest first
        self._layer_for_next_commit = False
        #: Keeps the database readable from the oldest kept transition on, for check_consistency.
        self._pin: Pin | None = None

    # -- what is kept ----------------------------------------------------------------------
    @property
    def keep_transitions(self) -> int | None:
        """How many transitions this client keeps (``None``: all); setting it trims at once."""
        return self._keep_transitions

    @keep_transitions.setter
    def keep_transitions(self, keep: int | None) -> None:
        self._keep_transitions = check_keep("keep_transitions", keep)
        self._trim()

    @property
    def keep_history(self) -> int | None:
        """How many entries each subscription's ``history`` keeps (``None``: all)."""
        return self._keep_history

    @keep_history.setter
    def keep_history(self, keep: int | None) -> None:
        self._keep_history = check_keep("keep_history", keep)
        for sub in self.subscriptions.values():
            sub._trim_history()

    def _trim(self) -> None:
        """Drop transitions beyond the window; the pin follows the oldest one kept."""
        keep, log = self._keep_transitions, self.transitions
        if keep is None or len(log) <= keep or self.manager.holding:
            return
        log.drop_oldest(keep)
        oldest, pin = (log[0].ts if log else self.ts), self._pin
        # The pin trails the window by up to its length again (moving it costs a pin each time),
        # so the store keeps at most about twice the window's commits for this client.
        if oldest is not None and pin is not None and oldest - pin.ts > keep:
            self._pin = self.manager.db.pin(oldest, f"client {self.id}")
            pin.release()

    # -- subscribing ---------------------------------------------------------------------
    def subscribe(self, ref: Any, args: Mapping[str, Any] | None = None) -> Subscription:
        """Subscribe to a public query; its first value is available at once."""
        sub = self.manager.subscribe(self, ref, args)
        self.subscriptions[sub.id] = sub
        self._deliver_initial(sub)
        return sub

    def subscribe_paginated(self, ref: Any, args: Mapping[str, Any] | None = None, *,
                            initial_num_items: int, opts_arg: str = "pagination_opts") -> PaginatedSubscription:
        """Subscribe to a paginated query, ``usePaginatedQuery``-style; grow it with ``load_more``."""
        return PaginatedSubscription(self, ref, args or {}, initial_num_items, opts_arg)

    def _deliver_initial(self, sub: Subscription) -> None:
        # An instance not re-run since its last evaluation is unchanged: valid at the latest ts.
        instance, ts = sub.instance, self.manager.db.latest_ts
        sub.server_value, sub.server_error = instance.value, instance.error
        self._transition(ts, {sub.id: instance.value}, {sub.id: ts})

    def _drop(self, sub: Subscription) -> None:
        self.subscriptions.pop(sub.id, None)
        self.manager.unsubscribe(sub)

    def _find(self, ref: Any, args: Mapping[str, Any] | None) -> Subscription | None:
        key = self.manager.key_for(ref, args, self.identity)
        return next((s for s in self.subscriptions.values() if s.instance.key == key), None)

    # -- calls ---------------------------------------------------------------------------
    def _check_connected(self, what: str) -> None:
        if not self.connected:
            raise SubscriptionError(f"client {self.id} is disconnected; reconnect() before {what}.")

    def query(self, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        """A one-shot query at the latest timestamp."""
        self._check_connected("querying")
        fn = self.manager.runtime.resolve(ref, QUERY, public_only=True)
        return self.manager.runtime.call_query(fn, args, self.identity)[0]

    def mutation(self, ref: Any, args: Mapping[str, Any] | None = None, *,
                 optimistic_update: Callable[[OptimisticStore], Any] | None = None) -> Any:
        """Run a public mutation. It returns after this client saw the transition of its commit.

        ``optimistic_update(store)`` edits the client's local results at once;
        they show until the server's transition replaces them (or the mutation fails).
        """
        self._check_connected("calling a mutation")
        runtime = self.manager.runtime
        fn = runtime.resolve(ref, MUTATION, public_only=True)
        if optimistic_update is not None:
            self._layers.append({})
            optimistic_update(OptimisticStore(self))
            self._show_all(None)
            self._layer_for_next_commit = True
        try:
            result, commit_ts = runtime.call_mutation(fn, args, self.identity)
        except BaseException:
            self._drop_layers()
            raise
        self._drop_layers()
        if self.ts is None or self.ts < commit_ts:  # a read-only mutation: advance anyway
            self._transition(commit_ts, {}, {})
        return result

    def action(self, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        self._check_connected("calling an action")
        fn = self.manager.runtime.resolve(ref, ACTION, public_only=True)
        return self.manager.runtime.call_action(fn, args, self.identity)

    # -- connection ----------------------------------------------------------------------
    def disconnect(self) -> None:
        """Stop receiving transitions (a closed laptop)."""
        self.connected = False

    pause = disconnect

    def reconnect(self) -> None:
        """Reconnect and resync: one transition brings every subscription to the latest timestamp."""
        self.connected = True
        self.manager.resync(self)

    resume = reconnect

    def close(self) -> None:
        """Unsubscribe everything and leave; the history kept for this client is released."""
        for sub in list(self.subscriptions.values()):
            sub.unsubscribe()
        self.manager.clients.remove(self)
        if self._pin is not None:
            self._pin.release()

    # -- delivery ------------------------------------------------------------------------
    def _transition(self, ts: int, updates: dict[int, Any], computed_at: dict[int, int]) -> None:
        if self.ts is not None and ts < self.ts:
            ts = self.ts  # a late subscriber joins at the client's timestamp, never earlier
        self.ts = ts
        if self._pin is None:
            self._pin = self.manager.db.pin(ts, f"client {self.id}")
        shown = {sid: server_view(self.subscriptions[sid]) for sid in updates if sid in self.subscriptions}
        self.transitions.append(Transition(ts, updates, shown, computed_at))
        self._trim()
        for sid in updates:
            sub = self.subscriptions.get(sid)
            if sub is not None:
                sub._show(ts)

    def _receive(self, ts: int, changed: list[Subscription]) -> None:
        """The server's transition for commit ``ts``: every affected subscription at once."""
        updates: dict[int, Any] = {}
        for sub in changed:
            sub.server_value, sub.server_error = sub.instance.value, sub.instance.error
            updates[sub.id] = sub.instance.value
        if self._layer_for_next_commit:
            self._drop_layers(ts)
        # Even with no update the client moves to ``ts``, claiming its view is current there:
        # an empty transition records that claim, so check_consistency checks it.
        self._transition(ts, updates, dict.fromkeys(updates, ts))

    # -- optimistic layers -----------------------------------------------------------------
    def _optimistic_value(self, sub: Subscription) -> Any:
        for layer in reversed(self._layers):
            if sub.id in layer:
                return layer[sub.id]
        return _NOTHING

    def _drop_layers(self, ts: int | None = None) -> None:
        if self._layers:
            self._layers.clear()
            self._layer_for_next_commit = False
            self._show_all(ts if ts is not None else self.ts)

    def _show_all(self, ts: int | None) -> None:
        for sub in self.subscriptions.values():
            sub._show(ts)

    def __repr__(self) -> str:
        who = self.identity.subject if self.identity else "anonymous"
        return f"<Client {self.id} {who} ts={self.ts} subscriptions={len(self.subscriptions)}>"


# --- The manager --------------------------------------------------------------------------------


class SubscriptionManager:
    """All query instances and clients of one simulator; re-runs queries after commits."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.instances: dict[tuple, QueryInstance] = {}
        self._by_number: dict[int, QueryInstance] = {}
        self.index = RangeIndex()
        self.clients: list[Client] = []
        self.reruns = 0
        self._listening = False
        #: What clients made from now on keep (see ``Client.keep_transitions``, ``keep_history``).
        self.keep_transitions: int | None = KEEP_TRANSITIONS
        self.keep_history: int | None = KEEP_HISTORY
        self._holds = 0

    # -- holding windows open ----------------------------------------------------------------
    @property
    def holding(self) -> bool:
        """While held, clients drop no transition and no history (an exploration checks, then
        rewinds, every schedule's transitions)."""
        return self._holds > 0

    def hold(self) -> None:
        """Keep every transition and history entry until the matching :meth:`release`."""
        self._holds += 1

    def release(self) -> None:
        self._holds -= 1

    def client(self, identity: UserIdentity | None) -> Client:
        client = Client(self, identity)
        self.clients.append(client)
        if not self._listening:
            self.db.commit_listeners.append(self.on_commit)
            self._listening = True
        return client

    def key_for(self, ref: Any, args: Mapping[str, Any] | None, identity: UserIdentity | None) -> tuple:
        """The key identical subscriptions share: (path, canonical args, identity)."""
        return self._resolve(ref, args, identity)[0]

    def _resolve(self, ref: Any, args: Mapping[str, Any] | None,
                 identity: UserIdentity | None) -> tuple[tuple, ConvexFunction, dict]:
        fn = self.runtime.resolve(ref, QUERY, public_only=True)
        checked = self.runtime.check_args(fn, args)
        key = (fn.path, canonical_text(checked), identity.token_identifier if identity else None)
        return key, fn, checked

    def subscribe(self, client: Client, ref: Any, args: Mapping[str, Any] | None) -> Subscription:
        key, fn, checked = self._resolve(ref, args, client.identity)
        instance = self.instances.get(key)
        if instance is None:
            instance = QueryInstance(key, fn, checked, client.identity)
            self.instances[key] = instance
            self._by_number[instance.number] = instance
            self._evaluate(instance, self.db.latest_ts)
        sub = Subscription(client, instance)
        instance.subscriptions[sub.id] = sub
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        instance = sub.instance
        instance.subscriptions.pop(sub.id, None)
        if not instance.subscriptions:
            self.index.remove(instance.number, instance.reads)
            del self.instances[instance.key]
            del self._by_number[instance.number]

    def _evaluate(self, instance: QueryInstance, ts: int) -> bool:
        """Run the instance at ``ts``; re-index its reads; say whether its result changed."""
        before = instance.canonical if instance.ts >= 0 else None
        self.index.remove(instance.number, instance.reads)
        seed = stable_seed(instance.key, ts)
        runtime = self.runtime
        outside, runtime.logs = runtime.logs, []   # its output, apart from the call that committed
        try:
            value, txn = runtime.call_query(instance.fn, instance.args, instance.identity, at_ts=ts, seed=seed)
            instance.value, instance.error, instance.reads = value, None, list(txn.reads)
        except Exception as exc:  # the subscription holds the error (ConvexError or any other)
            instance.value, instance.error = None, exc
            instance.reads = list(getattr(exc, "convex_sim_reads", instance.reads))
        finally:
            instance.logs, runtime.logs = list(runtime.logs), outside
        instance.ts = ts
        self.index.add(instance.number, instance.reads)
        self.reruns += 1
        return before != instance.canonical

    def affected(self, commit: Commit) -> list[QueryInstance]:
        """The instances whose read set this commit's writes touch (found through the index)."""
        numbers: dict[int, None] = {}
        for write in commit.writes:
            for index, old_key, new_key in write.keys:
                for key in (old_key, new_key):
                    if key is not None:
                        numbers.update(dict.fromkeys(self.index.stab(write.table, index, key)))
        return [self._by_number[n] for n in sorted(numbers) if n in self._by_number]

    def on_commit(self, commit: Commit) -> None:
        by_client: dict[int, list[Subscription]] = {}
        for instance in self.affected(commit):
            if self._evaluate(instance, commit.ts):
                for sub in instance.subscriptions.values():
                    by_client.setdefault(sub.client.id, []).append(sub)
        for client in list(self.clients):
            if client.connected:
                client._receive(commit.ts, by_client.get(client.id, []))

    def resync(self, client: Client) -> None:
        """A reconnecting client: every subscription at the latest timestamp, in one transition."""
        ts = self.db.latest_ts
        updates, computed = {}, {}
        for sub in client.subscriptions.values():
            instance = sub.instance
            if instance.ts != ts:
                self._evaluate(instance, ts)
            sub.server_value, sub.server_error = instance.value, instance.error
            updates[sub.id], computed[sub.id] = instance.value, ts
        client._transition(ts, updates, computed)

    # -- snapshots, for the explorer ---------------------------------------------------------
    def capture(self) -> Any:
        clients = [(c, c.transitions.received, c.ts, c.connected,
                    {sid: (s.server_value, s.server_error, s.history_dropped + len(s.history), s._shown)
                     for sid, s in c.subscriptions.items()}) for c in self.clients]
        instances = {n: (i.value, i.error, i.ts, list(i.reads)) for n, i in self._by_number.items()}
        return clients, instances

    def restore(self, state: Any) -> None:
        clients, instances = state
        for number, (value, error, ts, reads) in instances.items():
            instance = self._by_number.get(number)
            if instance is not None:
                self.index.remove(number, instance.reads)
                instance.value, instance.error, instance.ts, instance.reads = value, error, ts, list(reads)
                self.index.add(number, instance.reads)
        for client, received, ts, connected, subs in clients:
            client.ts, client.connected = ts, connected
            client._layers.clear()
            for sid, (value, error, history, shown) in subs.items():
                sub = client.subscriptions.get(sid)
                if sub is not None:
                    sub.server_value, sub.server_error, sub._shown = value, error, shown
                    if history >= sub.history_dropped:
                        del sub.history[history - sub.history_dropped:]
                    else:   # entries after that point were dropped: the history restarts there
                        sub.history.clear()
                        sub.history_dropped = history
            if not client.transitions.rewind(received):   # dropped past that point: restart there
                view = {sid: server_view(sub) for sid, sub in client.subscriptions.items()}
                client.transitions.restart(received, view, ts)


def server_view(sub: Subscription) -> str:
    """What the server last computed for ``sub``, as canonical text (an error as ``error:...``)."""
    return f"error:{sub.server_error}" if sub.server_error is not None else canonical_text(sub.server_value)
