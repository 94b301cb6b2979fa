"""Semantic mutation testing: each mutant is a real bug, applied to a copy; the suite must fail.

``make mutants`` runs every mutant below against a copy of the repository
and fails if any survives the test suite (``python tools/mutants.py NAME...``
runs some). A mutant is a reviewed edit modelling a bug someone could write:
a wrong bound, a missing case, a skipped check. Each names the bug and where
it lives; an edit whose original text no longer occurs exactly once is an
error, so the list cannot silently rot when the code moves.

First the unmutated copy runs (the control): if the suite fails there, every
mutant would count as killed by that failure alone, so the gate stops with
exit status 2. ``--break-control`` breaks the control on purpose, to show it.

Why not mutmut: it generates thousands of syntactic mutants (operator and
constant swaps) across every file, most equivalent or irrelevant, and runs
the whole suite for each (hours here); we want a short list of *semantic*
mutants named after bugs, as a gate that runs in minutes. ``patched(name)``
applies one mutant in-process, for a test that shows a checker finds it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    """A bug, as edits ``(original, replacement)`` of one file; each original occurs once."""

    name: str
    path: str
    edits: tuple[tuple[str, str], ...]
    bug: str


MUTANTS = [
    Mutant("contains-exclusive-hi", "convex_sim/database/log.py",
           (("return self.lo <= key <= self.hi", "return self.lo <= key < self.hi"),),
           "a read range excludes its last key: a write to the last row a take(n)/first() read is missed"),
    Mutant("deletes-never-conflict", "convex_sim/database/log.py",
           (("        if read.table != self.table or read.index not in self.index_names:",
             "        if read.table != self.table or read.index not in self.index_names or self.new is None:"),),
           "a delete never conflicts with a read of the deleted row"),
    Mutant("moves-conflict-only-by-id", "convex_sim/database/log.py",
           (("or (new_keys is not None and read.contains(new_keys[at])))",
             "or (new_keys is not None and old_keys is None and read.contains(new_keys[at])))"),),
           "an update moving a row into another transaction's index range is not a conflict there"),
    Mutant("validation-skipped", "convex_sim/database/core.py",
           (("        if not reads or since_ts >= self.latest_ts:",
             "        if True:"),),
           "the committer never validates a read set (no OCC)"),
    Mutant("snapshot-reads-latest", "convex_sim/database/transaction.py",
           (("visible(doc_id, self.begin_ts)", "visible(doc_id, self.db.latest_ts)"),
            ("ts, pending, position = self.begin_ts,", "ts, pending, position = self.db.latest_ts,"),
            ("ts, position = self.begin_ts,", "ts, position = self.db.latest_ts,")),
           "a transaction reads the latest commit instead of its snapshot"),
    Mutant("retry-reuses-old-snapshot", "convex_sim/database/core.py",
           (("    for attempt in range(max_retries + 1):\n        txn = db.begin(function)",
             "    first = db.latest_ts\n    for attempt in range(max_retries + 1):\n"
             "        txn = db.begin(function, at_ts=first)"),),
           "a retry after a conflict runs at the first attempt's snapshot again"),
    Mutant("late-index-keys-dropped", "convex_sim/database/store.py",
           (("            entries.update(waiting)\n", "            pass\n"),),
           "keys of new documents waiting to enter an index are dropped instead of sorted in"),
    Mutant("descending-narrows-wrong-end", "convex_sim/database/transaction.py",
           (("            if descending:\n                read.lo = key\n",
             "            if descending:\n                read.hi = key\n"),
            ("                if descending:\n                    read.lo = key\n",
             "                if descending:\n                    read.hi = key\n")),
           "a descending scan records the wrong end of what it consumed"),
    Mutant("invariant-not-checked", "convex_sim/explore/execution.py",
           (("if self.db.latest_ts != latest and self.failure is None:", "if False:"),),
           "the explorer never runs the invariant"),
    Mutant("serial-orders-not-compared", "convex_sim/explore/engine.py",
           (("            if any(self.serial_outcome(order, starts, jobs) == outcome for jobs in JOB_PLACEMENTS):",
             "            if True:"),),
           "op-level serializability accepts every outcome"),
    Mutant("reduction-ignores-ranges", "convex_sim/checker/model.py",
           (("        for read in other_reads:\n            if write.touches(read):",
             "        for read in other_reads:\n            if False:"),),
           "partial-order reduction treats a write inside another step's read range as independent"),
    Mutant("subscriptions-miss-new-keys", "convex_sim/subscriptions/clients.py",
           (("                for key in (old_key, new_key):", "                for key in (old_key,):"),),
           "a subscription is not re-run when a row enters its range"),
    Mutant("consistency-trusts-silent-advances", "convex_sim/subscriptions/consistency.py",
           (("        view.update(transition.shown)\n        if previous",
             "        view.update(transition.shown)\n        if not transition.updates and not "
             "transition.shown:\n            continue\n        if previous"),),
           "check_consistency skips a timestamp the client reached without any update"),
    Mutant("history-no-predicate-edges", "convex_sim/checker/graph.py",
           (("                self._add(node, nodes[j], RW_PREDICATE,",
             "                (lambda *a: None)(node, nodes[j], RW_PREDICATE,"),),
           "the history checker drops anti-dependencies from range reads"),
    Mutant("history-no-item-anti-dependencies", "convex_sim/checker/graph.py",
           (("                self._add(node, nodes[i], RW_ITEM,",
             "                (lambda *a: None)(node, nodes[i], RW_ITEM,"),),
           "the history checker drops anti-dependencies from document reads"),
    Mutant("missing-get-reads-nothing", "convex_sim/database/transaction.py",
           (("            if version is None:\n                return None\n            doc, size = version[1], version[2]",
             "            if version is None:\n                self.reads.pop()\n                return None\n"
             "            doc, size = version[1], version[2]"),),
           "db.get of an ID with no document records no read: a later insert of it is not a conflict"),
    Mutant("canceled-mutation-job-runs", "convex_sim/scheduler.py",
           (('            if job is None or job["state"]["kind"] != "pending":\n                return None\n'
             "            result = runtime.check_result(",
             "            if job is None:\n                return None\n            result = runtime.check_result("),),
           "a scheduled mutation canceled after it was picked still runs: its body checks only that the row exists"),
    Mutant("optional-accepts-null", "convex_sim/validators.py",
           (("        if value is UNDEFINED:\n            return value\n        return self.inner.check(value, path, ids)",
             "        if value is UNDEFINED or value is None:\n            return value\n"
             "        return self.inner.check(value, path, ids)"),),
           "v.optional(x) accepts null, which only v.optional(v.nullable(x)) allows"),
    Mutant("token-accepted-at-exp", "convex_sim/auth.py",
           (("if exp is not None and now_s >= exp:", "if exp is not None and now_s > exp:"),),
           "a token is still accepted at the second of its exp (RFC 7519: refused on or after)"),
    Mutant("reduction-dependence-one-way", "convex_sim/explore/records.py",
           (("        return footprints_overlap(writes, other_writes, other_reads) or \\\n"
             "            footprints_overlap(other_writes, writes, reads)\n",
             "        return footprints_overlap(writes, other_writes, other_reads)\n"),),
           "partial-order reduction checks dependence one way only and prunes distinct interleavings"),
]
BY_NAME = {m.name: m for m in MUTANTS}


class MutantError(Exception):
    """A mutant that no longer applies: its original text moved or changed."""


def mutated_source(mutant: Mutant, source: str) -> str:
    """``source`` with the mutant's edits applied; each original must occur exactly once."""
    for original, replacement in mutant.edits:
        count = source.count(original)
        if count != 1:
            raise MutantError(f"mutant {mutant.name}: expected the text {original!r} once in "
                              f"{mutant.path}, found it {count} time(s); update tools/mutants.py")
        source = source.replace(original, replacement)
    return source


# --- in-process: one mutant patched into the loaded modules, for a test ---------------------------


@contextlib.contextmanager
def patched(name: str) -> Iterator[Mutant]:
    """Apply mutant ``name`` to the imported code (the functions its edits fall in), then undo."""
    mutant = BY_NAME[name]
    module = importlib.import_module(mutant.path.removesuffix(".py").replace("/", "."))
    source = (ROOT / mutant.path).read_text()
    undo = []
    try:
        for original, replacement in mutant.edits:
            if original not in source and replacement in source:
                continue   # running inside this mutant's own copy: the code is mutated already
            owner, attr, new = _mutated_function(module, source, original, replacement)
            undo.append((owner, attr, owner.__dict__[attr]))
            setattr(owner, attr, new)
        yield mutant
    finally:
        for owner, attr, old in reversed(undo):
            setattr(owner, attr, old)


def _mutated_function(module: object, source: str, original: str, replacement: str) -> tuple[object, str, object]:
    """The function (or method) whose body holds ``original``, recompiled with the edit."""
    line = source.count("\n", 0, source.index(original)) + 1
    where = next(((owner.name if owner else None, node.name) for owner, node in _functions(ast.parse(source))
                  if _first_line(node) <= line <= node.end_lineno), None)  # type: ignore[operator]
    if where is None:
        raise MutantError(f"the text {original!r} is not inside a function")
    mutated = source.replace(original, replacement, 1)
    owner_name, name = where
    node = next(n for o, n in _functions(ast.parse(mutated)) if (o.name if o else None, n.name) == where)
    text = textwrap.dedent("".join(mutated.splitlines(keepends=True)[_first_line(node) - 1:node.end_lineno]))
    namespace: dict = {}
    code = compile(text, f"<mutant of {name}>", "exec", flags=annotations_flag(), dont_inherit=True)
    exec(code, vars(module), namespace)  # the mutant's own reviewed source
    owner = module if owner_name is None else getattr(module, owner_name)
    return owner, name, namespace[name]


def _first_line(node: ast.FunctionDef) -> int:
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _functions(tree: ast.Module) -> Iterator[tuple[ast.ClassDef | None, ast.FunctionDef]]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield None, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield node, item


def annotations_flag() -> int:
    import __future__

    return __future__.annotations.compiler_flag


# --- the gate: the unmutated copy (the control), then each mutant's copy, under the whole suite ---

#: What ``--break-control`` appends to the control copy's tests/conftest.py: every test then
#: errors, as when a copy lacks something the suite needs. The gate must stop there.
BREAK_CONTROL = """

import pytest as _pytest


@_pytest.fixture(autouse=True)
def _broken_copy():
    raise AssertionError("this copy was broken on purpose (tools/mutants.py --break-control)")
"""


def _git_files(root: Path, *options: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", *options], cwd=root, check=True, capture_output=True,
                            text=True).stdout
    return [name for name in listed.split("\n") if name]


def installed_node_modules(root: Path = ROOT) -> list[Path]:
    """The node_modules folders npm installed in the repository (ignored by git), outermost only."""
    ignored = _git_files(root, "-oi", "--exclude-standard", "--directory")
    return [root / name.rstrip("/") for name in ignored if Path(name.rstrip("/")).name == "node_modules"]


def _link_or_copy(source: str, target: str) -> str:
    """A hard link of ``source`` at ``target``, or a copy where the file system has none."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def _skip_bundle_cache(modules: Path) -> Callable[[str, list[str]], list[str]]:
    return lambda folder, names: [".cache"] if Path(folder) == modules else []


def copy_repository(target: Path, root: Path = ROOT) -> None:
    """Copy the repository into ``target`` so that the suite behaves there as in ``root``.

    Its files (tracked, and untracked but not ignored) are copied. Each installed node_modules
    becomes real folders of hard links: fast (no bytes copied), and every path the bundler
    resolves stays inside the copy, which a symbolic link would not give (the bundler follows
    it to the original, and keeps its cache there). Nothing writes into an installed file in
    place (the bundler's cache is written by rename), so the original files are never changed
    through a link. The bundle cache (node_modules/.cache) stays behind: a copy builds its own.
    """
    for name in sorted(_git_files(root, "-co", "--exclude-standard")):
        source = root / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for modules in installed_node_modules(root):
        shutil.copytree(modules, target / modules.relative_to(root), symlinks=True,
                        copy_function=_link_or_copy, ignore=_skip_bundle_cache(modules))


def run_suite(copy: Path, tests: Sequence[str] = ()) -> tuple[str, str]:
    """Run the suite (or ``tests``) in ``copy``, stopping at the first failure.

    Returns ("passed" | "failed" | "error", detail): the first failing test, or what went wrong.
    tests/test_mutants.py is left out: in a mutated copy it fails for the mutant's edit alone,
    and it would run copies of its own.

    The environment is the caller's, as under ``make test``: ``python -m pytest`` run in the copy
    imports the copy's code, and so does a Python process a test starts in the copy's folder.
    (A PYTHONPATH naming the copy would also leak into the fresh environments some tests build
    to check the installed wheel, and fail them.)"""
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                           "--ignore=tests/test_mutants.py", *tests],
                          cwd=copy, capture_output=True, text=True)
    failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    if done.returncode == 0:
        return "passed", done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "passed"
    if done.returncode == 1:
        return "failed", failed[0] if failed else "tests failed"
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    return "error", f"pytest exited {done.returncode}: {' | '.join(tail)}"


def run_copy(mutant: Mutant | None, tests: Sequence[str] = (), break_control: bool = False) -> tuple[str, str]:
    """Copy the repository, apply ``mutant`` (None: the control), and run the suite there."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name if mutant else 'control'}-") as tmp:
        copy = Path(tmp)
        copy_repository(copy)
        if mutant is not None:
            path = copy / mutant.path
            path.write_text(mutated_source(mutant, path.read_text()))
        if break_control:
            with (copy / "tests" / "conftest.py").open("a") as conftest:
                conftest.write(BREAK_CONTROL)
        return run_suite(copy, tests)


#: A mutant's verdict from its suite run: the suite must fail.
VERDICTS = {"failed": "killed", "passed": "SURVIVED", "error": "ERROR"}


def run_mutant(mutant: Mutant, tests: Sequence[str] = ()) -> tuple[Mutant, str, str, float]:
    """Run the suite against a copy with ``mutant`` applied: (mutant, "killed" | "SURVIVED" |
    "ERROR", the killing test or why not, seconds taken)."""
    started = time.monotonic()
    verdict, detail = run_copy(mutant, tests)
    return mutant, VERDICTS[verdict], detail, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    """Run the control, then the mutants: 0 if every mutant is killed, 1 if one is not, 2 if the
    control (the unmutated copy) does not pass, since then no mutant's verdict means anything."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2)), help="parallel runs")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--test", action="append", default=[], dest="tests", metavar="TEST",
                        help="a test file or node ID to run instead of the whole suite (repeatable)")
    parser.add_argument("--break-control", action="store_true",
                        help="break the control copy on purpose (shows that a failing control stops the gate)")
    options = parser.parse_args(argv)
    if options.list:
        for m in MUTANTS:
            print(f"{m.name:<36} {m.path:<36} {m.bug}")
        return 0
    unknown = [n for n in options.names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown mutant(s) {unknown}; --list shows them")
    chosen = [BY_NAME[n] for n in options.names] or MUTANTS
    for mutant in chosen:   # fail fast on a mutant that no longer applies
        mutated_source(mutant, (ROOT / mutant.path).read_text())
    started = time.monotonic()
    verdict, detail = run_copy(None, options.tests, options.break_control)
    print(f"{verdict:<9} {'control (no mutant)':<36} {detail[:200]} ({time.monotonic() - started:.0f} s)",
          flush=True)
    if verdict != "passed":
        print("The unmutated copy does not pass the suite, so no mutant was run: a mutant would "
              "count as killed by that failure alone.")
        return 2
    with ThreadPoolExecutor(options.jobs) as pool:
        outcomes = list(pool.map(lambda m: run_mutant(m, options.tests), chosen))
    for mutant, verdict, detail, seconds in outcomes:
        print(f"{verdict:<9} {mutant.name:<36} {detail[:200]} ({seconds:.0f} s)")
    survivors = [m.name for m, verdict, _, _ in outcomes if verdict != "killed"]
    print(f"{len(outcomes) - len(survivors)}/{len(outcomes)} mutants killed"
          + (f"; not killed: {', '.join(survivors)}" if survivors else "")
          + f" ({time.monotonic() - started:.0f} s)")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
