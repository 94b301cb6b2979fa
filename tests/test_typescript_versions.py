"""One app, two ``convex`` packages: the oldest 1.x release and the newest, each written as its
own docs show and with its own ``_generated/``, run with the same assertions
(docs/typescript.md#convex-versions)."""

import json
from pathlib import Path

import pytest

from convex_sim import ConvexError, ConvexSim
from convex_sim.js import JsError
from tests.conftest import prepared_project

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
#: scenario folder -> the ``convex`` version its package.json pins
VERSIONS = {"ts_convex_oldest": "1.0.2", "ts_convex_newest": "1.51.0"}


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def project(request):
    return prepared_project(SCENARIOS / request.param)


@pytest.fixture
def sim(project):
    return ConvexSim.from_project(project, seed=0)


def installed_version(project: Path) -> str:
    return json.loads((project / "node_modules" / "convex" / "package.json").read_text())["version"]


def test_the_pinned_version_is_installed(project):
    assert installed_version(project) == VERSIONS[project.name]


def test_mutation_and_indexed_query(sim):
    first = sim.mutation("messages:send", {"author": "ada", "body": "hi"})
    sim.mutation("messages:send", {"author": "bob", "body": "yo"})
    sim.mutation("messages:send", {"author": "ada", "body": "again"})
    assert sim.db.table_of_id(first) == "messages"
    assert sim.query("messages:list", {"author": "ada"}) == [
        {"body": "hi", "likes": 0}, {"body": "again", "likes": 0}]
    assert "by_author" in sim.schema.table("messages").all_indexes()


def test_scheduled_mutation_gets_its_arguments(sim):
    message = sim.mutation("messages:send", {"author": "ada", "body": "hi"})
    sim.mutation("messages:likeLater", {"id": message, "by": 3, "delayMs": 500})
    assert sim.query("messages:list", {"author": "ada"}) == [{"body": "hi", "likes": 0}]
    sim.advance_time(1000)
    assert sim.query("messages:list", {"author": "ada"}) == [{"body": "hi", "likes": 3}]


def test_action_runs_mutation_query_and_scheduler(sim):
    sim.mutation("messages:send", {"author": "ada", "body": "hi"})
    assert sim.action("messages:sendAndCount", {"author": "ada", "body": "yo"}) == 2
    assert sim.query("messages:list", {"author": "ada"})[1] == {"body": "yo", "likes": 0}
    sim.advance_time(1500)
    assert sim.query("messages:list", {"author": "ada"})[1] == {"body": "yo", "likes": 2}


def test_internal_mutation_is_not_public(sim):
    message = sim.mutation("messages:send", {"author": "ada", "body": "hi"})
    with pytest.raises(Exception, match="internal"):
        sim.client().mutation("messages:like", {"id": message, "by": 1})


def test_arguments_are_validated(sim):
    with pytest.raises(Exception, match=r"messages:send.*Path: \.body.*v\.string\(\)"):
        sim.mutation("messages:send", {"author": "ada", "body": 5})


def test_http_routes_return_json(sim):
    created = sim.fetch("/messages", method="POST", json={"author": "ada", "body": "hi"})
    assert created.status_code == 201
    assert sim.db.table_of_id(created.json()["id"]) == "messages"
    listed = sim.fetch("/messages?author=ada")
    assert listed.status_code == 200
    assert listed.headers["content-type"] == "application/json"
    assert listed.json() == {"author": "ada", "messages": [{"body": "hi", "likes": 0}]}


def test_errors_reach_python(sim, project):
    if project.name == "ts_convex_oldest":     # ConvexError came with convex 1.3
        with pytest.raises(JsError, match="EMPTY_BODY from ada"):
            sim.mutation("messages:send", {"author": "ada", "body": " "})
    else:
        with pytest.raises(ConvexError) as caught:
            sim.mutation("messages:send", {"author": "ada", "body": " "})
        assert caught.value.data == {"code": "EMPTY_BODY", "author": "ada"}
    assert sim.query("messages:list", {"author": "ada"}) == []
