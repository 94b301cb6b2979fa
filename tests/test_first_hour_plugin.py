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
