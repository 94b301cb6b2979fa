"""convex-test's own test app (its repository's ``convex/`` folder, loaded unchanged) as a
differential subject: where the checkout is, its tables, and a seeded call-sequence generator.

The app is fetched code: it lives in the corpus checkout (``corpus/manifest.toml``, entry
``convex-test``; ``$CONVEX_SIM_CORPUS`` or ``corpus`` beside the repository), never in
this repository. :func:`project` finds it, installing its node_modules when missing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from convex_sim.differential.calls import Call
from convex_sim.differential.sequences import Maker, SequenceBuilder, generate

ROOT = Path(__file__).resolve().parent.parent
#: The corpus manifest's name for the checkout.
NAME = "convex-test"
#: The tables a differential run compares at the end of each sequence.
TABLES = ("messages", "_scheduled_functions")


def _corpus() -> ModuleType:
    """tools/corpus.py, which knows where the corpus lives and how to install a checkout."""
    if "corpus_driver" in sys.modules:
        return sys.modules["corpus_driver"]
    spec = importlib.util.spec_from_file_location("corpus_driver", ROOT / "tools" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules["corpus_driver"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def project() -> tuple[Path | None, str]:
    """The app's project folder, installed, and "" — or None and why it is unavailable
    (not fetched, or its dependencies cannot be installed here)."""
    corpus = _corpus()
    entry = next(e for e in corpus.load_manifest() if e.name == NAME)
    reason = corpus.install_reason(entry)
    if reason is not None:
        return None, f"convex-test's app: {reason}"
    installed, _seconds, failure = corpus.install(entry)
    if not installed:
        return None, f"convex-test's app: installing its dependencies failed: {failure}"
    return corpus.project_dir(entry), ""


_AUTHORS = ("sarah", "lee", "AI")
_DELAYS = (0.0, 1000.0, 10_000.0, 60_000.0)
_INSERTED = ("mutations:insert",)
_SCHEDULED = ("scheduler:mutationSchedulingAction", "scheduler:actionSchedulingAction")


def _page(b: SequenceBuilder, path: str, **args: object) -> Call:
    cursor = b.earlier((path,), "continueCursor") if b.rng.random() < 0.5 else None
    return b.call("query", path, {**args, "paginationOptions": {"numItems": float(b.rng.randint(1, 3)),
                                                                "cursor": cursor}})


def _makers() -> list[Maker]:
    def author(b: SequenceBuilder) -> str:
        return b.choice(_AUTHORS)

    def body(b: SequenceBuilder) -> str:
        return b.choice(("hello", "world", "FAIL THIS"))

    def on(earlier: tuple[str, ...], kind: str, path: str, **args: object) -> Maker:
        """A call taking ``id``: what an earlier call to one of ``earlier`` returned."""
        def make(b: SequenceBuilder) -> Call | None:
            ref = b.earlier(earlier)
            return None if ref is None else b.call(kind, path, {"id": ref, **args})
        return make

    return [
        # mutations.ts: writes, nested transactions and their rollback
        lambda b: b.call("mutation", "mutations:insert", {"body": body(b), "author": author(b)}),
        lambda b: b.call("mutation", "mutations:insert", {"body": body(b), "author": author(b)}),
        on(_INSERTED, "mutation", "mutations:patch", body="patched"),
        on(_INSERTED, "mutation", "mutations:replace", author="lee", body="replaced"),
        on(_INSERTED, "mutation", "mutations:deleteDoc"),
        on(_INSERTED, "mutation", "mutations:append", suffix="!"),
        lambda b: b.call("mutation", "mutations:throws", {"body": body(b), "author": author(b)}),
        lambda b: b.call("mutation", b.choice(("mutations:rolledBackSubtransaction",
                                               "mutations:subtransactionCommitThenRollbackParent",
                                               "mutations:insertThenPatchInSubtransaction",
                                               "mutations:insertThenDeleteInSubtransaction"))),
        lambda b: b.call("query", "mutations:list"),
        # messages.ts: identities
        lambda b: b.call("mutation", "messages:send", {"body": body(b), "author": author(b)}),
        lambda b: b.call("query", "messages:listByAuth", {}, {"subject": "u", "name": author(b)}),
        # convexError.ts
        lambda b: b.call(*b.choice((("mutation", "convexError:throwsObject"), ("mutation", "convexError:throwsString"),
                                    ("query", "convexError:queryThrowsObject"),
                                    ("action", "convexError:actionThrowsObject"),
                                    ("mutation", "convexError:mutationCatchingConvexError")))),
        # actions.ts
        lambda b: b.call("action", "actions:actionCallingMutation", {"body": body(b)}),
        lambda b: b.call("action", "actions:actionCallingAction", {"count": float(b.rng.randint(0, 3))}),
        lambda b: b.call("action", "actions:actionCallingMutationsConcurrently",
                         {"authors": [author(b) for _ in range(b.rng.randint(0, 3))], "body": body(b)}),
        # scheduler.ts: jobs from mutations and actions, chains, cancellation, failures
        lambda b: b.call("mutation", "scheduler:add", {"body": body(b), "author": author(b)}),
        lambda b: b.call("mutation", "scheduler:mutationSchedulingAction",
                         {"body": body(b), "delayMs": b.choice(_DELAYS)}),
        lambda b: b.call("action", "scheduler:actionSchedulingAction", {"body": body(b), "delayMs": b.choice(_DELAYS)}),
        on(_SCHEDULED, "mutation", "scheduler:cancel"),
        on(_SCHEDULED, "action", "scheduler:cancelAction"),
        lambda b: b.call("action", "scheduler:actionSchedulingActionNTimes", {"count": float(b.rng.randint(0, 3))}),
        lambda b: b.call("mutation", "scheduler:scheduleNowAndLater"),
        lambda b: b.call("mutation", "scheduler:parentRunsMutationThatSchedules", {"body": body(b)}),
        lambda b: b.call("query", "scheduler:jobs"),
        lambda b: b.advance(b.choice((0.0, 999.0, 1000.0, 10_000.0, 60_000.0))),
        lambda b: b.advance(b.choice(_DELAYS)),
        lambda b: b.finish_scheduled(),
        # pagination.ts
        lambda b: _page(b, "pagination:listAll"),
        lambda b: _page(b, "pagination:list", author=author(b)),
        lambda b: _page(b, "pagination:listWithIndex", author=author(b)),
        # http.ts
        lambda b: b.fetch(f"/foo?arg={b.choice(('hello', 'a%20b'))}"),
        lambda b: b.fetch("/buzz", "POST", {"text": body(b)}),
        lambda b: b.fetch(b.choice(("/bla/hello", "/bla/x/y", "/bla/")), "POST"),
        lambda b: b.fetch("/readQuery", "POST"),
        lambda b: b.fetch(b.choice(("/nothing", "/foo")), b.choice(("GET", "POST"))),
    ]


def call_sequences(count: int, *, seed: int = 0, max_calls: int = 10) -> list[list[Call]]:
    """``count`` call sequences over the app's writes, nested transactions, errors, actions,
    scheduled jobs, time, pagination and HTTP routes (seeded, reproducible)."""
    return generate(_makers(), count, seed=seed, max_calls=max_calls)
