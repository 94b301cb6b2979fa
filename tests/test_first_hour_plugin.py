"""First-hour misuses seen through the pytest plugin (pytester)."""

def run(pytester, *args):
    """Run pytest in-process without Hypothesis' plugin (it costs ~1.4 s per session)."""
    return pytester.runpytest("-p", "no:hypothesispytest", *args)


def test_a_fixture_without_an_app_says_which_option_or_marker_to_set(pytester):
    pytester.makepyfile("""
        def test_forgot_config(convex):
            convex.mutation("tasks:add", {"title": "x"})
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*Could not find function for 'tasks:add': no app is loaded.*convex_sim_app = \"myapp\" "
        "under [[]tool.pytest.ini_options[]] or mark the test @pytest.mark.convex_app(\"myapp\")*",
    ])


APP = '''
import httpx
from convex_sim import action

@action(args={})
async def fetch_quote(ctx, args):
    async with httpx.AsyncClient() as client:
        return (await client.get("http://127.0.0.1:9/quote")).json()

@action(args={})
async def fetch_quote_sync(ctx, args):
    return httpx.get("http://127.0.0.1:9/quote").json()
'''


def _network_app(pytester):
    pkg = pytester.mkpydir("netapp")
    (pkg / "schema.py").write_text("from convex_sim import define_schema\nschema = define_schema({})\n")
    (pkg / "quotes.py").write_text(APP)
    pytester.syspathinsert()
    pytester.makeini("[pytest]\nconvex_sim_app = netapp\n")


def test_unmocked_outbound_http_from_an_action_is_refused_pointing_at_respx(pytester):
    _network_app(pytester)
    pytester.makepyfile("""
        import pytest
        from convex_sim import NetworkNotAllowedError

        @pytest.mark.parametrize("name", ["fetch_quote", "fetch_quote_sync"])
        def test_refused(convex, name):
            with pytest.raises(NetworkNotAllowedError) as error:
                convex.action(f"quotes:{name}", {})
            assert str(error.value).startswith(
                f"quotes:{name}: the outbound request GET http://127.0.0.1:9/quote was not mocked, "
                "and tests refuse the real network. Mock it with respx")

        def test_mocked(convex, respx_mock):
            respx_mock.get("http://127.0.0.1:9/quote").respond(json={"price": 3})
            assert convex.action("quotes:fetch_quote", {}) == {"price": 3}

        @pytest.mark.convex_allow_network
        def test_allowed_reaches_the_network(convex):
            import httpx
            with pytest.raises(httpx.ConnectError):   # port 9 (discard) is closed
                convex.action("quotes:fetch_quote", {})
    """)
    run(pytester).assert_outcomes(passed=4)


def test_failure_reports_hide_simulator_frames_and_print_a_counterexample_once(pytester, monkeypatch):
    for name in ("CI", "BUILD_NUMBER"):  # on CI pytest repeats whole messages in its short summary
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile("""
        import pytest
        from convex_sim import Op

        @pytest.mark.convex_app("scenarios.bank")
        def test_app_error(convex):
            convex.action("bank:transfer_via_action", {"src": "nobody", "dst": "bob", "amount": 1})

        @pytest.mark.convex_app("scenarios.bank")
        def test_race(convex):
            convex.mutation("bank:open_account", {"owner": "ada", "balance": 100})

            def no_overdraft(ctx):
                for account in ctx.db.query("accounts").collect():
                    assert account["balance"] >= 0

            op = Op("bank:transfer_via_action", {"src": "ada", "dst": "bob", "amount": 60})
            convex.explore([op, op], invariant=no_overdraft, max_schedules=3).assert_ok()
    """)
    result = run(pytester)
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "convex_sim/sim.py" not in text and "convex_sim/runtime.py" not in text
    assert "convex_sim/explore/results.py" not in text
    assert "scenarios/bank/bank.py" in text  # the app's own frame stays
    first = next(line.strip() for line in text.splitlines() if line.strip().startswith("E") and "Schedule '" in line)
    header = first[1:].strip()
    assert text.count(header) == 1
    assert "its timeline is in the failure above" in text
