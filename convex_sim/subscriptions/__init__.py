"""Reactive queries and simulated clients, as the Convex sync protocol behaves.

* Identical subscriptions (same function, arguments and identity) share one
  **query instance**: one execution, one read set.
* After each commit, the instances whose read set the commit's writes touch
  are found through a **range index** and re-run; no other instance is
  visited. A commit re-runs nothing when it writes outside every read set.
* A **client** (``sim.client()``) is one connection: it receives one
  **transition** per commit timestamp, updating all its affected
  subscriptions at once; its mutations return only after it has seen the
  transition of their commit (read-your-writes); optimistic updates show
  until that transition arrives.
* :func:`check_consistency` re-runs every subscription at every delivered
  timestamp it still keeps (a client pins the history from its oldest kept
  transition until it is closed, so MVCC keeps those snapshots) and reports
  any view that no single point in time had, timestamps going backwards, or a
  missed change.
* Memory stays bounded: a client keeps its latest ``KEEP_TRANSITIONS``
  transitions (the view the dropped ones left is all the checker needs of
  them) and each subscription its latest ``KEEP_HISTORY`` history entries;
  ``keep_transitions`` / ``keep_history`` (``None``: keep everything) change
  that per client or, on the manager, for clients made afterwards.
"""

from .clients import (
    Client,
    OptimisticStore,
    PaginatedSubscription,
    QueryInstance,
    Subscription,
    SubscriptionManager,
)
from .consistency import ConsistencyReport, View, ViewProblem, check_consistency, check_views
from .index import RangeIndex
from .transitions import (
    KEEP_HISTORY,
    KEEP_TRANSITIONS,
    SubscriptionError,
    Transition,
    TransitionLog,
)

__all__ = [
    "KEEP_HISTORY", "KEEP_TRANSITIONS", "Client", "ConsistencyReport", "OptimisticStore",
    "PaginatedSubscription", "QueryInstance", "RangeIndex", "Subscription", "SubscriptionError",
    "SubscriptionManager", "Transition", "TransitionLog", "View", "ViewProblem", "check_consistency", "check_views",
]
