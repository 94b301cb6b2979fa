"""Every syscall op of the `convex` npm package, exercised through real TypeScript functions
of scenarios/ts_bank (one test per op, named after it)."""

import httpx
import pytest
import respx

from convex_sim import ConvexError, ConvexSimError, NetworkNotAllowedError
from convex_sim.auth import TestIssuer
from convex_sim.js import JsError
from convex_sim.js.abi import SUPPORTED_OPS, Host


def _messages(ts, *rows):
    return [ts.mutation("messages:send", {"author": a, "body": b, "channel": c}) for a, b, c in rows]


def test_get(ts):
    (mid,) = _messages(ts, ("ann", "hi", "general"))
    doc = ts.query("messages:getById", {"id": mid})
    assert doc["_id"] == mid and doc["body"] == "hi" and doc["channel"] == "general"
    assert isinstance(doc["_creationTime"], float)


def test_insert(ts):
    account = ts.mutation("bank:open", {"owner": "a", "amount": 7})
    assert ts.run(lambda ctx: ctx.db.get(account))["balance"] == 7.0


def test_shallow_merge(ts):
    ts.mutation("bank:open", {"owner": "a", "amount": 7})
    ts.mutation("bank:deposit", {"owner": "a", "amount": 5})
    assert ts.query("bank:balance", {"owner": "a"}) == 12.0


def test_shallow_merge_with_table_name_and_identity(ts):
    task = ts.mutation("tasks:create", {"title": "write"})
    ts.with_identity(subject="u1").mutation("tasks:assign", {"id": task})
    assert ts.run(lambda ctx: ctx.db.get(task))["assignee"] == "u1"


def test_replace(ts):
    (mid,) = _messages(ts, ("ann", "hi", "general"))
    ts.mutation("messages:edit", {"id": mid, "body": "edited"})
    doc = ts.query("messages:getById", {"id": mid})
    assert doc["body"] == "edited" and doc["author"] == "ann"


def test_remove(ts):
    (mid,) = _messages(ts, ("ann", "hi", "general"))
    ts.mutation("messages:remove", {"id": mid})
    assert ts.query("messages:getById", {"id": mid}) is None


def test_query_stream_next_and_cleanup(ts):
    _messages(ts, ("ann", "a", "general"), ("bob", "b", "general"), ("cy", "c", "other"))
    listed = ts.query("messages:list", {"channel": "general", "limit": 1})
    assert [m["body"] for m in listed] == ["b"]          # desc, limited by take(1)
    assert ts.query("bank:total", {}) == 0                 # a full scan of an empty table
    assert ts.query("messages:count", {}) == 3


def test_query_stream_filters_and_ranges(ts):
    _messages(ts, ("ann", "zed", "a"), ("bob", "alpha", "b"), ("ann", "x", "c"), ("bob", "zz", "b"))
    got = ts.query("messages:inChannelRange", {"from": "a", "to": "c"})
    assert sorted(m["body"] for m in got) == ["alpha", "zed"]
    since = ts.query("messages:byAuthorSince", {"author": "ann", "since": 0})
    assert sorted(m["body"] for m in since) == ["x", "zed"]


def test_unique_and_first(ts):
    _messages(ts, ("ann", "one", "solo"), ("bob", "two", "pair"), ("cy", "three", "pair"))
    assert ts.query("messages:onlyInChannel", {"channel": "solo"})["body"] == "one"
    assert ts.query("messages:latest", {})["body"] == "three"
    with pytest.raises(JsError, match="unique\\(\\) query returned more than one result"):
        ts.query("messages:onlyInChannel", {"channel": "pair"})


def test_query_page(ts):
    _messages(ts, *[("ann", f"m{i}", "p") for i in range(5)])
    opts = {"numItems": 2, "cursor": None}
    first = ts.query("messages:page", {"channel": "p", "paginationOpts": opts})
    assert [m["body"] for m in first["page"]] == ["m4", "m3"] and first["isDone"] is False
    rest = ts.query("messages:page", {"channel": "p", "paginationOpts": {"numItems": 10, "cursor": first["continueCursor"]}})
    assert [m["body"] for m in rest["page"]] == ["m2", "m1", "m0"] and rest["isDone"] is True


def test_count(ts):
    _messages(ts, ("ann", "a", "x"), ("bob", "b", "y"))
    assert ts.query("messages:countFast", {}) == 2


def test_normalize_id(ts):
    (mid,) = _messages(ts, ("ann", "a", "x"))
    account = ts.mutation("bank:open", {"owner": "a", "amount": 1})
    assert ts.query("messages:normalize", {"id": mid}) == mid
    assert ts.query("messages:normalize", {"id": account}) is None
    assert ts.query("messages:normalize", {"id": "not an id"}) is None


def test_search(ts):
    _messages(ts, ("ann", "hello world", "x"), ("bob", "hello there", "x"), ("ann", "bye", "x"))
    assert {m["body"] for m in ts.query("messages:search", {"text": "hello"})} == {"hello world", "hello there"}
    assert [m["body"] for m in ts.query("messages:search", {"text": "hello", "author": "bob"})] == ["hello there"]


def test_get_user_identity(ts):
    assert ts.query("tasks:whoami", {}) is None
    me = ts.with_identity(subject="u1", name="Ada", email="ada@example.test").query("tasks:whoami", {})
    assert me["subject"] == "u1" and me["name"] == "Ada" and me["email"] == "ada@example.test"
    assert me["tokenIdentifier"] == "https://convex.test|u1"


def test_get_user_identity_from_a_real_token(ts_bank_project):
    from convex_sim import ConvexSim

    issuer = TestIssuer(domain="https://issuer.test", application_id="app")
    sim = ConvexSim.from_project(ts_bank_project, auth_providers=[issuer.provider])
    me = sim.with_token(issuer.token("u7", name="Tok")).query("tasks:whoami", {})
    assert me["subject"] == "u7" and me["issuer"] == "https://issuer.test" and me["name"] == "Tok"


def test_schedule_and_cancel_job(ts):
    job = ts.mutation("jobs:scheduleLater", {"ms": 1000, "body": "later"})
    gone = ts.mutation("jobs:scheduleLater", {"ms": 1000, "body": "never"})
    ts.mutation("jobs:cancel", {"id": gone})
    assert ts.query("jobs:status", {"id": job})["state"] == {"kind": "pending"}
    assert ts.query("jobs:status", {"id": gone})["state"] == {"kind": "canceled"}
    ts.advance_time(1000)
    assert [m["body"] for m in ts.query("messages:list", {"channel": "jobs"})] == ["later"]
    status = ts.query("jobs:status", {"id": job})
    assert status["state"] == {"kind": "success"} and "scheduledTime" in status


def test_cancel_of_a_finished_job_leaves_it_as_it_is(ts):
    # convex-backend SchedulerModel::cancel (crates/model/src/scheduled_jobs/mod.rs): a job
    # that is no longer pending or in progress is left alone, without an error.
    job = ts.mutation("jobs:scheduleLater", {"ms": 10, "body": "done"})
    ts.advance_time(10)
    ts.mutation("jobs:cancel", {"id": job})
    ts.action("jobs:cancelFromAction", {"id": job})
    assert ts.query("jobs:status", {"id": job})["state"] == {"kind": "success"}


def test_cancel_of_a_job_not_in_the_table_is_logged_not_raised(ts, ts_bank_project):
    from convex_sim import ConvexSim

    elsewhere = ConvexSim.from_project(ts_bank_project, seed=99)
    unknown = elsewhere.mutation("jobs:scheduleLater", {"ms": 10, "body": "elsewhere"})
    assert ts.query("jobs:status", {"id": unknown}) is None
    ts.mutation("jobs:cancel", {"id": unknown})
    assert any("nothing to cancel" in line for line in ts.calls[-1].logs)


def test_scheduled_args_round_trip_exactly(ts):
    # A scheduled function's args are the app's values: int64 stays bigint, keys keep their
    # spelling (convex-backend stores udf_args as given; _scheduled_functions shows them).
    payload = {"my_key": "snake", "camelKey": 1.5, "count": 12345678901234567, "nested": {"a_b": [1, 2.0]}}
    job = ts.mutation("jobs:scheduleRecord", {"payload": payload})
    seen = ts.query("jobs:scheduledArgs", {"id": job})
    assert seen == {"args": [{"payload": payload}], "bigint": "bigint"}
    assert type(seen["args"][0]["payload"]["count"]) is int
    ts.advance_time(0)
    bodies = [m["body"] for m in ts.query("messages:list", {"channel": "jobs"})]
    assert bodies == ['["camelKey","count","my_key","nested"]']  # Convex objects sort their keys


def test_actions_schedule_and_cancel_job(ts):
    job = ts.action("jobs:scheduleFromAction", {"ms": 50, "body": "from action"})
    other = ts.action("jobs:scheduleFromAction", {"ms": 50, "body": "canceled"})
    ts.action("jobs:cancelFromAction", {"id": other})
    ts.advance_time(50)
    assert [m["body"] for m in ts.query("messages:list", {"channel": "jobs"})] == ["from action"]
    assert ts.query("jobs:status", {"id": job})["state"]["kind"] == "success"


def test_run_udf_and_create_function_handle(ts):
    ts.mutation("bank:open", {"owner": "a", "amount": 9})
    handle = ts.mutation("handles:balanceHandle", {})
    assert handle.startswith("function://") and handle.endswith("bank:balance")
    assert ts.mutation("handles:balanceViaHandle", {"owner": "a"}) == {"handle": handle, "balance": 9.0}


def test_actions_query_and_mutation(ts):
    ts.mutation("bank:open", {"owner": "a", "amount": 10})
    ts.mutation("bank:open", {"owner": "b", "amount": 0})
    ts.action("bank:transferViaAction", {"src": "a", "dst": "b", "amount": 4})
    assert ts.query("bank:balance", {"owner": "b"}) == 4.0


def test_actions_convex_error_from_a_nested_mutation(ts):
    ts.mutation("bank:open", {"owner": "a", "amount": 1})
    ts.mutation("bank:open", {"owner": "b", "amount": 0})
    with pytest.raises(ConvexError) as caught:
        ts.action("bank:transferAtomic", {"src": "a", "dst": "b", "amount": 5})
    assert caught.value.data == {"code": "INSUFFICIENT_FUNDS", "balance": 1.0}


def test_storage_generate_upload_url_and_get_url_and_metadata(ts):
    url = ts.mutation("files:generateUploadUrl", {})
    storage_id = ts.fetch(url, method="POST", content=b"hello", headers={"Content-Type": "text/plain"}).json()["storageId"]
    ts.mutation("files:saveFile", {"storageId": storage_id, "name": "h.txt"})
    file_url = ts.query("files:getUrl", {"storageId": storage_id})
    assert ts.fetch(file_url).content == b"hello"
    meta = ts.query("files:metadata", {"storageId": storage_id})
    assert meta["legacy"]["size"] == 5 and meta["legacy"]["contentType"] == "text/plain"
    assert meta["doc"]["_id"] == storage_id and meta["doc"]["size"] == 5
    assert [d["_id"] for d in ts.query("files:listStored", {})] == [storage_id]


def test_storage_delete(ts):
    storage_id = ts.action("files:storeText", {"text": "bye"})
    ts.mutation("files:deleteFile", {"storageId": storage_id})
    assert ts.query("files:getUrl", {"storageId": storage_id}) is None


def test_storage_store_blob_and_get_blob(ts):
    storage_id = ts.action("files:storeText", {"text": "héllo"})
    assert ts.action("files:readText", {"storageId": storage_id}) == "héllo"
    assert ts.query("files:metadata", {"storageId": storage_id})["legacy"]["contentType"] == "text/plain"


def test_actions_vector_search(ts):
    near = ts.mutation("vectors:add", {"text": "near", "vector": [1.0, 0.0, 0.0], "tag": "x"})
    ts.mutation("vectors:add", {"text": "far", "vector": [0.0, 1.0, 0.0], "tag": "x"})
    ts.mutation("vectors:add", {"text": "other tag", "vector": [1.0, 0.0, 0.0], "tag": "y"})
    results = ts.action("vectors:nearest", {"vector": [0.9, 0.1, 0.0], "tag": "x"})
    assert results[0]["_id"] == near and len(results) == 2
    assert results[0]["_score"] > results[1]["_score"]


def test_request_from_convex_json_and_convex_json_from_response(ts):
    response = ts.fetch("/webhook", method="POST", json={"author": "hook", "body": "posted"})
    assert response.status_code == 200 and response.json()["ok"] is True
    assert [m["body"] for m in ts.query("messages:list", {"channel": "webhook"})] == ["posted"]
    hello = ts.fetch("/hello/ann?name=Ann")
    assert hello.text == "hello Ann from /hello/ann" and hello.headers["content-type"] == "text/plain"
    assert ts.fetch("/nowhere").status_code == 404


def test_fetch_in_an_action_goes_through_httpx(ts):
    with respx.mock:
        respx.get("https://api.example.test/rates").mock(return_value=httpx.Response(200, json={"eur": 1.1}))
        assert ts.action("outbound:rates", {}) == {"eur": 1.1}


def test_fetch_in_a_query_is_refused(ts):
    with pytest.raises(NetworkNotAllowedError, match="outbound:ratesFromQuery: Can't use fetch\\(\\) in queries"):
        ts.query("outbound:ratesFromQuery", {})


def test_js_error_maps_to_the_ts_line(ts):
    with pytest.raises(JsError) as caught:
        ts.mutation("errors:boom", {})
    assert "boom from ts" in str(caught.value) and "errors:boom" in str(caught.value)
    assert "convex/errors.ts:7" in caught.value.stack


def test_convex_error_data_round_trip(ts):
    with pytest.raises(ConvexError) as caught:
        ts.mutation("errors:refuse", {})
    assert caught.value.data == {"code": "REFUSED", "detail": {"retry": False, "after": 30.0}}


def test_an_unknown_op_is_named(ts):
    host = Host(None, "m:f", "query", [])
    with pytest.raises(ConvexSimError, match=r"m:f: convex-sim does not support the syscall '1.0/nope'"):
        host.immediate("1.0/nope", {})
    assert "1.0/queryStream" in SUPPORTED_OPS
