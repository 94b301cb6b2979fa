"""The deployment's environment variables: set before a project's modules load, with Convex's
own CONVEX_SITE_URL / CONVEX_CLOUD_URL, passed from from_project, the fixture, conformance.toml
and the command line."""

import textwrap

import pytest

from convex_sim import ConvexSim
from convex_sim.check import CheckConfigError, load_config
from convex_sim.cli import main as cli_main
from convex_sim.envvars import EnvError, env_from_assignments, read_env_file

STRICT = {
    "convex/config.ts": """
        import { query } from "./_generated/server";
        // read at load, as apps do: a missing variable stops the module from loading
        const key = process.env.PAYMENTS_KEY;
        if (!key) throw new Error("PAYMENTS_KEY is not set");
        const site = process.env.CONVEX_SITE_URL;
        export const read = query({ args: {}, handler: async () =>
            ({ key, site, cloud: process.env.CONVEX_CLOUD_URL }) });
    """,
    "convex/auth.config.ts": """
        export default { providers: [
            { domain: process.env.CONVEX_SITE_URL, applicationID: "convex" },
            { domain: process.env.ISSUER_URL ?? "https://unset.test", applicationID: "app" },
        ] };
    """,
}


def test_env_is_set_before_modules_load(make_project):
    root = make_project(STRICT)
    sim = ConvexSim.from_project(root, env={"PAYMENTS_KEY": "pk_1"})
    assert sim.query("config:read", {}) == {
        "key": "pk_1", "site": ConvexSim.SITE_ORIGIN, "cloud": ConvexSim.CLOUD_ORIGIN}


def test_a_module_that_needs_a_missing_variable_does_not_load(make_project):
    root = make_project(STRICT)
    with pytest.raises(Exception, match="PAYMENTS_KEY is not set"):
        ConvexSim.from_project(root)


def test_auth_config_reads_env_at_load(make_project):
    root = make_project(STRICT)
    sim = ConvexSim.from_project(root, env={"PAYMENTS_KEY": "k", "ISSUER_URL": "https://issuer.test"})
    domains = [p["domain"] for p in sim.project.auth_providers]
    assert domains == [ConvexSim.SITE_ORIGIN, "https://issuer.test"]
    other = ConvexSim.from_project(root, env={"PAYMENTS_KEY": "k", "CONVEX_SITE_URL": "https://x.site"})
    assert [p["domain"] for p in other.project.auth_providers] == ["https://x.site", "https://unset.test"]


def test_each_environment_loads_its_own_copy(make_project):
    root = make_project(STRICT)
    first = ConvexSim.from_project(root, env={"PAYMENTS_KEY": "one"})
    second = ConvexSim.from_project(root, env={"PAYMENTS_KEY": "two"})
    assert first.query("config:read", {})["key"] == "one"
    assert second.query("config:read", {})["key"] == "two"
    assert ConvexSim.from_project(root, env={"PAYMENTS_KEY": "one"}).project is first.project


def test_the_fixture_takes_env_from_the_ini_option_and_the_marker(pytester, make_project):
    root = make_project(STRICT)
    pytester.makeini(f"""
        [pytest]
        convex_sim_project = {root}
        convex_sim_env =
            PAYMENTS_KEY=from_ini
            OTHER=a=b
    """)
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        def test_ini(convex):
            assert convex.query("config:read", {})["key"] == "from_ini"
            assert convex.runtime.env["OTHER"] == "a=b"

        @pytest.mark.convex_project(ROOT, env={"PAYMENTS_KEY": "from_marker"})
        def test_marker(convex):
            assert convex.query("config:read", {})["key"] == "from_marker"
    """).replace("ROOT", repr(str(root))))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_conformance_toml_and_the_command_line_pass_env(make_project, tmp_path, capsys):
    root = make_project(STRICT)
    config = tmp_path / "conformance.toml"
    config.write_text(textwrap.dedent(f"""
        [app]
        project = "{root}"
        env = {{ PAYMENTS_KEY = "from_file" }}

        [[scenario]]
        name = "reads"
        ops = [{{ op = "config:read", args = {{}} }}]
    """))
    make, _scenarios = load_config(config)
    assert make(0).query("config:read", {})["key"] == "from_file"
    make, _scenarios = load_config(config, {"PAYMENTS_KEY": "from_cli"})
    assert make(0).query("config:read", {})["key"] == "from_cli"
    env_file = tmp_path / ".env.local"
    env_file.write_text("# keys\nexport PAYMENTS_KEY='from_env_file'\n")
    assert cli_main(["check", str(config), "--env-file", str(env_file)]) == 0
    assert cli_main(["check", str(config), "--env", "PAYMENTS_KEY"]) == 2
    assert "--env: expected NAME=VALUE, got 'PAYMENTS_KEY'" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "message"), [
    ('env = { "1BAD" = "x" }', r"\[app\] env: expected a variable name .* got '1BAD'"),
    ('env = { KEY = 3 }', r"\[app\] env\.KEY: expected a string value, got 3"),
    ('env = "KEY=x"', r"\[app\] env: expected a table"),
])
def test_a_bad_env_in_conformance_toml_names_the_entry(tmp_path, text, message):
    config = tmp_path / "conformance.toml"
    config.write_text(f'[app]\nmodules = "scenarios.bank"\n{text}\n')
    with pytest.raises(CheckConfigError, match=message):
        load_config(config)


def test_env_files_and_assignments(tmp_path):
    path = tmp_path / ".env"
    path.write_text('A=1\n\n# comment\nexport B="two words"\nC=x # trailing\nD=\n')
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "x", "D": ""}
    path.write_text("A=1\nnot an assignment\n")
    with pytest.raises(EnvError, match=r"\.env:2: expected NAME=value"):
        read_env_file(path)
    assert env_from_assignments(["URL=https://a?b=c"], "--env") == {"URL": "https://a?b=c"}


def test_a_simulators_env_is_its_own(make_project):
    root = make_project(STRICT)
    first = ConvexSim.from_project(root, env={"PAYMENTS_KEY": "k"})
    first.runtime.env["EXTRA"] = "only here"
    second = ConvexSim.from_project(root, env={"PAYMENTS_KEY": "k"})
    assert second.project is first.project
    assert "EXTRA" not in second.runtime.env and "EXTRA" not in first.project.env
