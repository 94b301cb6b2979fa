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
