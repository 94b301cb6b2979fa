"""The concurrency explorer: run operations under many schedules and check each one.

The model (see docs/exploring.md):

* An **operation** is ``Op("bank:transfer", args)`` (a mutation, action or
  query call) or ``Flow(async_fn)`` (a client making several calls).
* It advances in **steps**. A mutation is *begin* (run the handler on the
  snapshot of the latest commit, buffering writes) then *commit* (OCC
  validation; a conflict sends it back to *begin*). An action or flow takes
  one step per awaited call. Jobs an operation schedules run as further steps
  of it, the clock moving to their due time.
* A **schedule** is the sequence of choices of which operation advances next.
  The engine works on that sequence alone, like Hypothesis' engine on its
  choice sequence: strategies pick choices, shrinking rewrites them, and
  neither knows anything about the app.

Every schedule starts from the simulator's state when ``explore`` was called
(rewound through the MVCC write log, not copied) and is checked: the user's
invariant after every commit, and op-level serializability (the outcome must
equal that of some serial order of the same operations).

Modules, one concern each, each importing only those before it: ``ops``
(operations, schedule strings), ``shrinking`` (generic over choice sequences),
``records`` (what a step did, why a schedule failed), ``outcomes`` (canonical
outcomes, serial orders), ``execution`` (one schedule, step by step),
``render`` (timelines, HTML), ``results`` (what an exploration returns),
``strategies`` (which schedules to run) and ``engine`` (the checks and entry
points). They talk through public names; ``execution`` and ``strategies``
declare what they need of the engine's ``Explorer`` as protocols.
"""

from .engine import (
    CHECK_OPTIONS,
    COMPARE,
    DEFAULTS,
    ENUMERATE_SERIAL_ORDERS_UP_TO,
    STRATEGIES,
    Explorer,
    explore,
    make_explorer,
    replay,
)
from .execution import Execution, Pending
from .invariants import invariant_of
from .ops import (
    Actor,
    ExplorationError,
    Flow,
    FlowClient,
    Op,
    expand,
    parse_schedule,
    schedule_string,
)
from .records import Failure, StepRecord
from .render import coalesce, render_html, render_timeline, write_atomically
from .results import Counterexample, ExplorationResult, ScheduleRun
from .shrinking import shrink

#: Former names of :class:`Execution` and :class:`Explorer`, kept for code that used them.
_Execution = Execution
_Explorer = Explorer

__all__ = [
    "CHECK_OPTIONS",
    "COMPARE",
    "DEFAULTS",
    "ENUMERATE_SERIAL_ORDERS_UP_TO",
    "STRATEGIES",
    "Actor",
    "Counterexample",
    "ExplorationError",
    "ExplorationResult",
    "Failure",
    "Flow",
    "FlowClient",
    "Op",
    "Pending",
    "ScheduleRun",
    "StepRecord",
    "_Execution",
    "_Explorer",
    "coalesce",
    "expand",
    "explore",
    "invariant_of",
    "make_explorer",
    "parse_schedule",
    "render_html",
    "render_timeline",
    "replay",
    "schedule_string",
    "shrink",
    "write_atomically",
]
