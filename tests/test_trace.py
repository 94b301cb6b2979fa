"""Traces: record → replay (Python and TypeScript apps), divergence reports, bad input,
the CLI, and the pytest option."""

import json
import shutil

import httpx
import pytest
import respx

from convex_sim import ConvexError, ConvexSim, mutation, v
from convex_sim.cli import main
from convex_sim.functions import Registry, discover
from convex_sim.trace import TraceError, TraceReader, sim_for_trace
from scenarios.bank.schema import schema as bank_schema
from scenarios.ts_bank import open_accounts


def bank_sim(seed=0, modules="scenarios.bank"):
    return ConvexSim(bank_schema, modules=modules, seed=seed)


def bank_session(sim):
    """A small run touching every event kind a Python app without HTTP routes has."""
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    with pytest.raises(ConvexError):
        sim.mutation("bank:transfer", {"src": "bob", "dst": "ada", "amount": 5})
    ada = sim.with_identity(subject="ada", name="Ada")
    ada.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 30})
    ada.action("bank:transfer_via_action", {"src": "ada", "dst": "bob", "amount": 10})
    sim.run(lambda ctx: ctx.db.insert("accounts", {"owner": "cy", "balance": 7}))
    sim.advance_time(1000)
    sim.mutation("bank:open_account", {"owner": "dan", "balance": 1})
    assert sim.query("bank:total", {}) == 108


def events(path):
    return [event for _, event in TraceReader(path).events()]


# -- format and recording -------------------------------------------------------------

def test_record_writes_a_header_then_one_event_per_call(tmp_path):
    sim = bank_sim()
    trace = tmp_path / "t.jsonl"
    with sim.record(trace):
        bank_session(sim)
        assert not trace.exists() and (tmp_path / "t.jsonl.partial").exists()  # atomic rename at close
    assert not (tmp_path / "t.jsonl.partial").exists()
    header = json.loads(trace.read_text().splitlines()[0])
    assert header == {"format": "convex-sim-trace", "version": 1, "app": "scenarios.bank", "seed": 0,
                      "clock_start": 1704067200000.0, "fetches": "recorded"}
    recorded = events(trace)
    assert [e["type"] for e in recorded].count("clock_advance") == 1
    calls = [e for e in recorded if e["type"] == "call"]
    assert [c["path"] for c in calls] == ["bank:open_account", "bank:open_account", "bank:transfer",
                                          "bank:transfer", "bank:transfer_via_action", "sim.run",
                                          "bank:open_account", "bank:total"]
    assert calls[0]["args"] == {"owner": "ada", "balance": {"$integer": "ZAAAAAAAAAA="}}
    assert calls[2]["error"] == {"type": "ConvexError", "data": {"code": "INSUFFICIENT_FUNDS"}}
    assert calls[3]["identity"]["subject"] == "ada" and calls[3]["identity"]["name"] == "Ada"
    assert calls[3]["client"] == "sim:https://convex.test|ada"
    assert calls[3]["snapshot_ts"] == 2 and calls[3]["commit_ts"] == 3
    assert calls[-1]["result"] == {"$integer": "bAAAAAAAAAA="} and calls[-1]["commit_ts"] is None


def test_each_event_is_flushed_as_it_is_written(tmp_path):
    sim = bank_sim()
    with sim.record(tmp_path / "t.jsonl"):
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 1})
        lines = (tmp_path / "t.jsonl.partial").read_text().splitlines()
        assert len(lines) == 2 and json.loads(lines[1])["path"] == "bank:open_account"


# -- replay: Python app --------------------------------------------------------------

def test_a_recorded_run_keeps_its_writes_however_eagerly_history_is_retired(tmp_path):
    """The recorder pins the state before an ad-hoc ``sim.run`` until it has listed the
    commits the run made, so retiring history after every commit loses none of them."""
    sim = bank_sim()
    sim.db.history.batch = 1   # retire history after every commit
    with sim.record(tmp_path / "t.jsonl"):
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 1})
        sim.run(lambda ctx: ctx.db.insert("accounts", {"owner": "cy", "balance": 7}))
    (run,) = [e for e in events(tmp_path / "t.jsonl") if e.get("kind") == "run"]
    assert [w["doc"]["owner"] for w in run["writes"]] == ["cy"]
    assert bank_sim().replay(tmp_path / "t.jsonl").ok


def test_python_record_then_replay_is_identical(tmp_path):
    sim = bank_sim()
    with sim.record(tmp_path / "t.jsonl"):
        bank_session(sim)
    report = bank_sim().replay(tmp_path / "t.jsonl")
    assert report.ok, str(report)
    assert report.events == 9 and "no divergence" in str(report)


@mutation(args={"src": v.string(), "dst": v.string(), "amount": v.int64()})
def generous_transfer(ctx, args):
    """A changed bank:transfer: it never refuses, and moves one more than asked."""
    accounts = {a["owner"]: a for a in ctx.db.query("accounts").collect()}
    ctx.db.patch(accounts[args["src"]]["_id"], {"balance": accounts[args["src"]]["balance"] - args["amount"] - 1})
    ctx.db.patch(accounts[args["dst"]]["_id"], {"balance": accounts[args["dst"]]["balance"] + args["amount"] + 1})
    return args["amount"] + 1


def changed_bank():
    original = discover("scenarios.bank")
    functions = dict(original.functions)
    functions["bank:transfer"] = generous_transfer
    return Registry(functions, original.modules)


def test_a_changed_function_is_reported_at_its_first_divergent_call(tmp_path):
    sim = bank_sim()
    with sim.record(tmp_path / "t.jsonl"):
        bank_session(sim)
    report = bank_sim(modules=changed_bank()).replay(tmp_path / "t.jsonl")
    assert not report.ok
    first = report.first
    assert first.line == 4   # header, two opens, then the refused transfer
    assert first.what.startswith("mutation bank:transfer(")
    assert first.diff == [
        'error: expected {"data": {"code": "INSUFFICIENT_FUNDS"}, "type": "ConvexError"}, got nothing (missing)',
        'result: expected nothing, got {"$integer": "BgAAAAAAAAA="}']
    assert "line 4: mutation bank:transfer(" in str(report)


def test_keep_going_reports_every_divergent_event(tmp_path):
    sim = bank_sim()
    with sim.record(tmp_path / "t.jsonl"):
        bank_session(sim)
    report = bank_sim(modules=changed_bank()).replay(tmp_path / "t.jsonl", keep_going=True)
    assert report.events == 9 and report.divergent_events > 1
    assert [d.line for d in report.divergences][:2] == [4, 5]


# -- replay: TypeScript app ------------------------------------------------------------

def ts_session(sim):
    open_accounts(sim, ada=100, bob=0)
    sim.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 30})
    assert sim.query("bank:balance", {"owner": "bob"}) == 30
    sim.with_identity(subject="ann").action("bank:transferViaAction", {"src": "ada", "dst": "bob", "amount": 5})
    with respx.mock:
        respx.get("https://api.example.test/rates").mock(return_value=httpx.Response(200, json={"eur": 1.1}))
        assert sim.action("outbound:rates", {}) == {"eur": 1.1}
    assert sim.fetch("/webhook", method="POST", json={"author": "hook", "body": "hi"}).status_code == 200
    sim.mutation("jobs:scheduleLater", {"ms": 500, "body": "later"})
    sim.advance_time(1000)
    assert [m["body"] for m in sim.query("messages:list", {"channel": "jobs"})] == ["later"]


def test_typescript_record_then_replay_is_identical_without_network(ts, ts_bank_project, tmp_path):
    with ts.record(tmp_path / "t.jsonl"):
        ts_session(ts)
    recorded = events(tmp_path / "t.jsonl")
    kinds = [e["type"] for e in recorded]
    assert {"fetch", "http_request", "scheduled_run", "clock_advance", "call"} <= set(kinds)
    fetch = next(e for e in recorded if e["type"] == "fetch")
    assert fetch["url"] == "https://api.example.test/rates" and fetch["status"] == 200
    assert recorded[kinds.index("fetch") + 1]["path"] == "outbound:rates"   # nested events come first
    # no respx mock now: the action's fetch is answered from the trace
    report = ConvexSim.from_project(ts_bank_project, seed=0).replay(tmp_path / "t.jsonl")
    assert report.ok, str(report)


def test_typescript_changed_function_diverges(ts, ts_bank_project, tmp_path):
    with ts.record(tmp_path / "t.jsonl"):
        ts_session(ts)
    changed = tmp_path / "changed"
    shutil.copytree(ts_bank_project, changed, ignore=shutil.ignore_patterns("node_modules"), symlinks=True)
    (changed / "node_modules").symlink_to(ts_bank_project / "node_modules")
    bank = changed / "convex" / "bank.ts"
    source = bank.read_text()
    credit = "{ balance: to.balance + amount }"
    assert credit in source
    bank.write_text(source.replace(credit, "{ balance: to.balance + amount + 1 }", 1))
    sim = sim_for_trace(tmp_path / "t.jsonl", project=changed)
    report = sim.replay(tmp_path / "t.jsonl")
    assert not report.ok
    assert report.first.line == 5   # header, two opens, the transfer, then this query
    assert report.first.what == 'query bank:balance({"owner": "bob"})'
    assert report.first.diff == ["result: expected 30.0, got 31.0"]


# -- bad input ---------------------------------------------------------------------------

def recorded(tmp_path):
    sim = bank_sim()
    path = tmp_path / "t.jsonl"
    with sim.record(path):
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
        sim.query("bank:balance", {"owner": "ada"})
    return path


@pytest.mark.parametrize(("change", "message"), [
    (lambda text: "".join(line[:-6] + "\n" if i == 1 else line for i, line in enumerate(text.splitlines(True))),
     r"t.jsonl:2: not JSON"),
    (lambda text: text.replace('{"type":"call","client":"sim","kind":"query"', "{nope", 1), r"t.jsonl:3: not JSON"),
    (lambda text: text.replace('"version":1', '"version":99', 1), r"t.jsonl:1: unknown trace format version 99"),
    (lambda text: text.replace('"format":"convex-sim-trace"', '"format":"other"', 1), r"t.jsonl:1: not a convex-sim trace"),
    (lambda text: text.replace('"path":"bank:balance"', '"path":"bank:nope"', 1), r"t.jsonl:3: unknown function path 'bank:nope'"),
    (lambda text: text.replace('"type":"call","client":"sim","kind":"query"', '"type":"dance","client":"sim","kind":"query"', 1), r"t.jsonl:3: unknown event type 'dance'"),
    (lambda text: "", r"empty file"),
])
def test_bad_traces_are_clear_errors_and_left_untouched(tmp_path, change, message):
    path = recorded(tmp_path)
    path.write_text(change(path.read_text()))
    before = path.read_bytes()
    with pytest.raises(TraceError, match=message):
        bank_sim().replay(path)
    assert path.read_bytes() == before
    assert main(["replay", str(path), "--app", "scenarios.bank"]) == 2


# -- CLI and pytest option ----------------------------------------------------------------

def test_cli_replay_exit_codes(tmp_path, capsys):
    path = recorded(tmp_path)
    assert main(["replay", str(path), "--app", "scenarios.bank"]) == 0
    assert "2 events replayed, no divergence" in capsys.readouterr().out
    text = path.read_text().replace('"result":{"$integer":"ZAAAAAAAAAA="}', '"result":{"$integer":"ZQAAAAAAAAA="}')
    path.write_text(text)
    assert main(["replay", str(path), "--app", "scenarios.bank"]) == 1
    out = capsys.readouterr().out
    assert "line 3: query bank:balance" in out
    assert 'result: expected {"$integer": "ZQAAAAAAAAA="}, got {"$integer": "ZAAAAAAAAAA="}' in out
    with pytest.raises(SystemExit):
        main(["replay", str(path)])   # --app or --project is required


def test_pytest_option_records_one_trace_per_test(pytester, tmp_path):
    pytester.makeini("[pytest]\nconvex_sim_app = scenarios.bank\n")
    pytester.makepyfile("""
        def test_one(convex):
            convex.mutation("bank:open_account", {"owner": "ada", "balance": 1})

        def test_two(convex):
            convex.query("bank:total", {})
    """)
    result = pytester.runpytest("--convex-record", str(tmp_path / "traces"), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    files = sorted(p.name for p in (tmp_path / "traces").iterdir())
    assert files == ["test_pytest_option_records_one_trace_per_test.py_test_one.jsonl",
                     "test_pytest_option_records_one_trace_per_test.py_test_two.jsonl"]
    for name in files:
        assert bank_sim().replay(tmp_path / "traces" / name).ok


# -- explore around the calls that overlapped ----------------------------------------------

def production_trace(path):
    """Two transfers through the racy action that really overlapped (times in ms)."""
    from convex_sim.trace import TraceWriter

    def call(path_, args, start, end, **outcome):
        return {"type": "call", "client": "web", "kind": "action" if "action" in path_ else "mutation",
                "path": path_, "args": args, "identity": None, "start": start, "snapshot_ts": None,
                "end": end, "commit_ts": None, **outcome}

    amount = {"$integer": "PAAAAAAAAAA="}   # 60
    writer = TraceWriter(path, {"app": "scenarios.bank", "seed": 0, "clock_start": 1000.0, "fetches": "live"})
    writer.write(call("bank:open_account", {"owner": "ada", "balance": {"$integer": "ZAAAAAAAAAA="}}, 1000, 1010,
                      result="j57e7sr6gb10jk5ccafpzfpr5g3wvyqy"))
    writer.write(call("bank:open_account", {"owner": "bob", "balance": {"$integer": "AAAAAAAAAAA="}}, 1020, 1030,
                      result="j57fea5mz914gqht19ejyd3bnaa5b5nr"))
    transfer = {"src": "ada", "dst": "bob", "amount": amount}
    writer.write(call("bank:transfer_via_action", transfer, 2000, 2300, result=amount))
    writer.write(call("bank:transfer_via_action", transfer, 2100, 2400,
                      error={"type": "ConvexError", "data": {"code": "INSUFFICIENT_FUNDS"}}))
    writer.write(call("bank:open_account", {"owner": "cy", "balance": {"$integer": "AAAAAAAAAAA="}}, 3000, 3001,
                      result="x"))
    writer.close()
    return path


def test_overlapping_calls_are_grouped_and_explored(tmp_path, capsys):
    from convex_sim.trace import explore_overlaps, overlapping_windows
    from scenarios.bank.bank import no_overdraft

    path = production_trace(tmp_path / "prod.jsonl")
    windows = overlapping_windows(path)
    assert [[line for line, _ in w.calls] for w in windows] == [[4, 5]]
    sim = sim_for_trace(path, app="scenarios.bank")
    report = explore_overlaps(sim, path, invariant=no_overdraft)
    assert [d.line for d in report.replay.divergences] == [6]   # the last call's recorded id is made up
    result = report.windows[0].result
    assert not result.ok and any(f.kind == "invariant" for f in result.failures)
    assert not report.ok and "lines 4, 5 (bank:transfer_via_action, bank:transfer_via_action)" in str(report)
    assert main(["replay", str(path), "--app", "scenarios.bank", "--explore",
                 "--invariant", "scenarios.bank.bank:no_overdraft", "--budget", "50"]) == 1
    assert "1 window(s) of overlapping calls explored" in capsys.readouterr().out


def test_a_simulator_trace_has_no_overlapping_calls(tmp_path):
    from convex_sim.trace import overlapping_windows

    sim = bank_sim()
    with sim.record(tmp_path / "t.jsonl"):
        bank_session(sim)
    assert overlapping_windows(tmp_path / "t.jsonl") == []


def test_exploring_inside_a_recording_leaves_no_stray_events(tmp_path):
    from convex_sim import Op

    sim = bank_sim()
    with sim.record(tmp_path / "t.jsonl"):
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
        sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
        sim.explore([Op("bank:transfer_via_action", {"src": "ada", "dst": "bob", "amount": 60})] * 2)
        sim.advance_time(10)
    assert [e["type"] for e in events(tmp_path / "t.jsonl")] == ["call", "call", "clock_advance"]
    assert bank_sim().replay(tmp_path / "t.jsonl").ok


def test_recording_ends_cleanly_and_cannot_nest(tmp_path):
    sim = bank_sim()
    with sim.record(tmp_path / "a.jsonl"):
        with pytest.raises(RuntimeError, match="already recording"):
            sim.record(tmp_path / "b.jsonl").__enter__()
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 1})
        assert bank_sim().replay(tmp_path / "a.jsonl.partial").events == 1  # readable mid-run
    assert not {"_record", "_fetch", "advance_time"} & set(vars(sim))
    assert "run_job" not in vars(sim.scheduler)
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 1})
    assert len(events(tmp_path / "a.jsonl")) == 1


def test_a_window_after_the_divergence_says_it_was_not_explored(tmp_path, capsys):
    path = production_trace(tmp_path / "prod.jsonl")
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("j57fea5mz914gqht19ejyd3bnaa5b5nr", "j57fea5mz914gqht19ejyd3bnaa5b5zz")
    path.write_text("\n".join(lines) + "\n")
    assert main(["replay", str(path), "--app", "scenarios.bank", "--explore", "--budget", "50"]) == 1
    out = capsys.readouterr().out
    assert "1 window(s) of overlapping calls, 0 explored" in out
    assert ("lines 4, 5 (bank:transfer_via_action, bank:transfer_via_action): not explored: the replay "
            "stopped at its divergence on line 3") in out
    assert main(["replay", str(path), "--app", "scenarios.bank", "--explore", "--budget", "50",
                 "--keep-going"]) == 1
    assert "1 window(s) of overlapping calls explored" in capsys.readouterr().out


# -- arguments are recorded as the function's validator received them ------------------------

def test_an_int_for_a_number_argument_is_recorded_as_the_float_the_function_got(tmp_path, ts):
    trace = tmp_path / "t.jsonl"
    with ts.record(trace):
        ts.mutation("bank:open", {"owner": "ada", "amount": 100})
        with pytest.raises(Exception, match="amount"):
            ts.mutation("bank:open", {"owner": "bob", "amount": "lots"})
    first, refused = [e for e in events(trace) if e["type"] == "call"]
    assert first["args"] == {"owner": "ada", "amount": 100.0} and type(first["args"]["amount"]) is float
    assert refused["args"] == {"owner": "bob", "amount": "lots"}   # as passed: the validator refused it


def test_a_python_float64_argument_is_recorded_as_a_float(tmp_path):
    from scenarios.rules.schema import schema

    sim = ConvexSim(schema, modules="scenarios.rules", seed=0)
    trace = tmp_path / "t.jsonl"
    with sim.record(trace):
        sim.mutation("rules:later", {"ms": 5, "note": "n"})
    (call,) = [e for e in events(trace) if e["type"] == "call"]
    assert call["args"] == {"ms": 5.0, "note": "n"} and type(call["args"]["ms"]) is float
    assert sim_for_trace(trace, app="scenarios.rules").replay(trace).ok
