"""Known departures of convex-test (0.0.60) from Convex, where convex-sim follows Convex:
a disagreement one of them explains is counted, not reported (docs/conformance.md lists
them with the convex-backend source each rests on).

A departure either *explains* one call's pair of outcomes (the comparison of that sequence
stops there), or *reconciles* a difference wherever it appears — in call results and in the
final tables alike — so the comparison goes on past it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .calls import Call


@dataclass(frozen=True)
class Departure:
    """A place where convex-test departs from Convex and convex-sim follows Convex."""

    name: str
    source: str                                                 # the Convex source convex-sim follows
    explains: Callable[[Call, Any, Any], bool] | None = None    # (call, convex-sim's, convex-test's outcome)
    #: (convex-sim's, convex-test's) normalised values -> both with the departure's difference removed
    reconcile: Callable[[Any, Any], tuple[Any, Any]] | None = None


def _page_full_at_the_last_row(call: Call, ours: Any, theirs: Any) -> bool:
    a, b = ours.get("ok"), theirs.get("ok")
    if not (isinstance(a, dict) and isinstance(b, dict) and "isDone" in a):
        return False
    wanted = next((x.get("numItems") for x in (call.get("args") or {}).values()
                   if isinstance(x, dict) and "numItems" in x), None)
    return (a["isDone"] is False and b["isDone"] is True and len(a["page"]) == wanted
            and {**a, "isDone": True} == b)


def _request_to_an_app_without_routes(call: Call, ours: Any, theirs: Any) -> bool:
    a = ours.get("ok")
    return call["kind"] == "fetch" and isinstance(a, dict) and a.get("status") == 404 and theirs == {"error": True}


def _in_step(ours: Any, theirs: Any, fix: Callable[[dict, dict], tuple[dict, dict] | None]) -> tuple[Any, Any]:
    """Both values walked in step (lists of one length, dicts by common key); ``fix`` is
    offered each pair of dicts first, and returns the pair reconciled, or None to go deeper."""
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        pairs = [_in_step(a, b, fix) for a, b in zip(ours, theirs, strict=True)]
        return [a for a, _ in pairs], [b for _, b in pairs]
    if not (isinstance(ours, dict) and isinstance(theirs, dict)):
        return ours, theirs
    fixed = fix(ours, theirs)
    if fixed is not None:
        return fixed
    a, b = dict(ours), dict(theirs)
    for key in ours.keys() & theirs.keys():
        a[key], b[key] = _in_step(ours[key], theirs[key], fix)
    return a, b


def _page_split(ours: dict, theirs: dict) -> tuple[dict, dict] | None:
    """convex-test splits a page by its own rule: a split cursor only with a split status,
    and "SplitRecommended" whenever it scanned more than one row past the page size."""
    if "isDone" not in ours or "splitCursor" not in theirs:
        return None
    fixed = dict(theirs)
    if theirs.get("pageStatus") == "SplitRecommended" and ours.get("pageStatus") is None:
        fixed.update(pageStatus=None, splitCursor=ours.get("splitCursor"))
    elif ours.get("splitCursor") is not None and theirs["splitCursor"] is None and theirs.get("pageStatus") is None:
        fixed["splitCursor"] = ours["splitCursor"]
    return ours, fixed


def _job(fix: Callable[[dict, dict], tuple[dict, dict]]) -> Callable[[dict, dict], tuple[dict, dict] | None]:
    """``fix`` for pairs of scheduled-function rows with the same (normalised) ``_id``."""
    def on_rows(ours: dict, theirs: dict) -> tuple[dict, dict] | None:
        if "scheduledTime" in ours and "state" in ours and ours.get("_id") == theirs.get("_id"):
            return fix(ours, theirs)
        return None
    return on_rows


def _kind(row: dict) -> Any:
    return row["state"].get("kind") if isinstance(row.get("state"), dict) else None


def _completed_time(ours: dict, theirs: dict) -> tuple[dict, dict]:
    """convex-test records ``completedTime`` only for a failed run."""
    if _kind(ours) in ("success", "canceled") and "completedTime" in ours and "completedTime" not in theirs:
        ours = {k: x for k, x in ours.items() if k != "completedTime"}
    return ours, theirs


def _cancel_after_completion(ours: dict, theirs: dict) -> tuple[dict, dict]:
    """convex-test marks a job canceled even when it had already run (its effects, compared
    in the other tables, show that it ran)."""
    if _kind(ours) in ("success", "failed") and _kind(theirs) == "canceled":
        theirs = {**theirs, "state": ours["state"]}
    return ours, theirs


DEPARTURES = (
    Departure("a page that fills exactly on the last row",
              "convex-backend query_page / read_page_from_query: the read stops as soon as the "
              "page is full, so isDone is false and the next page is empty; convex-test reads one "
              "row ahead and says done",
              explains=_page_full_at_the_last_row),
    Departure("an HTTP request to an app that routes none",
              "convex-backend crates/application/src/application_function_runner/http_routing.rs: "
              "with no http module `route_http_action` finds no route and the request is answered "
              "404; convex-test's t.fetch throws (it imports the missing `http` module)",
              explains=_request_to_an_app_without_routes),
    Departure("a page's split cursor and SplitRecommended status",
              "convex-backend crates/isolate/src/environment/udf/async_syscall.rs "
              "(read_page_from_query): split_cursor is the middle of the rows scanned, and "
              "SplitRecommended only near the read limits or past 6,144 rows; convex-test gives "
              "a split cursor only with a split status, and recommends a split whenever a page "
              "scanned more than one row past its size",
              reconcile=lambda ours, theirs: _in_step(ours, theirs, _page_split)),
    Departure("completedTime of a scheduled function that succeeded or was canceled",
              "convex-backend crates/model/src/scheduled_jobs/mod.rs `complete`: every terminal "
              "state (success, failed, canceled) sets completed_ts, shown as completedTime "
              "(virtual_table.rs); convex-test sets it only when the run failed",
              reconcile=lambda ours, theirs: _in_step(ours, theirs, _job(_completed_time))),
    Departure("canceling a scheduled function that already ran",
              "convex-backend crates/model/src/scheduled_jobs/mod.rs `cancel`: only a pending or "
              "in-progress job becomes canceled; a job that succeeded or failed keeps its state. "
              "convex-test marks it canceled",
              reconcile=lambda ours, theirs: _in_step(ours, theirs, _job(_cancel_after_completion))),
)

__all__ = ["DEPARTURES", "Departure"]
