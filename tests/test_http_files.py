"""HTTP actions, outbound httpx and file storage, on small apps."""

import httpx
import pytest

from convex_sim import (
    ConvexError,
    ConvexSim,
    HttpRouter,
    NetworkNotAllowedError,
    action,
    http_action,
    mutation,
    query,
    v,
)
from convex_sim.auth import TestIssuer
from convex_sim.files import StorageError
from convex_sim.functions import Registry
from convex_sim.http import RouteError


@action(args={"text": v.string()})
async def store_and_read(ctx, args):
    storage_id = await ctx.storage.store(args["text"].encode(), content_type="text/plain")
    data = await ctx.storage.get(storage_id)
    meta = await ctx.storage.get_metadata(storage_id)
    await ctx.storage.delete(storage_id)
    gone = await ctx.storage.get(storage_id)
    return {"data": data.decode(), "size": meta["size"], "gone": gone is None}


@mutation(args={})
def fetch_in_mutation(ctx, args):
    return httpx.get("https://api.example.test/x").json()


@query(args={})
def fetch_in_query(ctx, args):
    with httpx.Client() as client:
        return client.get("https://api.example.test/x").json()


@action(args={})
async def fetch_in_action(ctx, args):
    async with httpx.AsyncClient() as client:
        return (await client.get("https://api.example.test/x")).json()


@query(args={"id": v.string()})
def bad_storage_id(ctx, args):
    return ctx.storage.get_url(args["id"])


@http_action
async def whoami(ctx, request):
    user = ctx.auth.get_user_identity()
    return httpx.Response(200, json={"subject": user.subject if user else None})


@http_action
async def broken(ctx, request):
    raise ConvexError({"code": "NOPE"})


@http_action
async def deep(ctx, request):
    return httpx.Response(200, text="deep")


@http_action
async def shallow(ctx, request):
    return httpx.Response(200, text="shallow")


def make_sim(**kwargs):
    registry = Registry()
    for name, fn in dict(globals()).items():
        if hasattr(fn, "kind") and hasattr(fn, "handler"):
            registry.register(f"m:{name}", fn)
    router = HttpRouter()
    router.route(path="/whoami", method="GET", handler=whoami)
    router.route(path="/broken", method="POST", handler=broken)
    router.route(path_prefix="/a/", method="GET", handler=shallow)
    router.route(path_prefix="/a/b/", method="GET", handler=deep)
    registry.modules["http"] = type("HttpModule", (), {"http": router})
    return ConvexSim(None, registry, **kwargs)


def test_action_storage_store_get_metadata_delete():
    assert make_sim().action("m:store_and_read", {"text": "hello"}) == {"data": "hello", "size": 5, "gone": True}


def test_storage_rejects_ids_of_other_tables():
    with pytest.raises(StorageError, match="is not a storage ID"):
        make_sim().query("m:bad_storage_id", {"id": "not-an-id"})


def test_outbound_httpx_from_an_action_mocked_with_respx(respx_mock):
    respx_mock.get("https://api.example.test/x").respond(json={"ok": True})
    assert make_sim().action("m:fetch_in_action", {}) == {"ok": True}


@pytest.mark.parametrize(("kind", "path"), [("mutation", "m:fetch_in_mutation"), ("query", "m:fetch_in_query")])
def test_httpx_in_queries_and_mutations_fails_even_when_mocked(respx_mock, kind, path):
    respx_mock.get("https://api.example.test/x").respond(json={"ok": True})
    sim = make_sim()
    with pytest.raises(NetworkNotAllowedError, match=f"{path}: {kind}s cannot use the network"):
        getattr(sim, kind)(path, {})
    assert not respx_mock.calls


def test_http_action_identity_from_bearer_token():
    issuer = TestIssuer()
    sim = make_sim(auth_providers=[issuer.provider])
    assert sim.fetch("/whoami").json() == {"subject": None}
    signed = sim.fetch("/whoami", headers={"Authorization": f"Bearer {issuer.token('ada')}"})
    assert signed.json() == {"subject": "ada"}
    bad = sim.fetch("/whoami", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401


def test_http_action_errors_are_500_with_the_exception_attached():
    response = make_sim().fetch("/broken", method="POST", json={})
    assert response.status_code == 500
    assert response.extensions["convex_sim_error"].data == {"code": "NOPE"}


def test_longest_prefix_wins_and_methods_matter():
    sim = make_sim()
    assert sim.fetch("/a/b/c").text == "deep"
    assert sim.fetch("/a/x").text == "shallow"
    assert sim.fetch("/a/x", method="POST").status_code == 404


def test_route_definition_errors():
    router = HttpRouter()
    with pytest.raises(RouteError, match="exactly one of path= or path_prefix="):
        router.route(method="GET", handler=whoami)
    with pytest.raises(RouteError, match="must end with '/'"):
        router.route(path_prefix="/a", method="GET", handler=whoami)
    with pytest.raises(RouteError, match="must be an @http_action"):
        router.route(path="/a", method="GET", handler=fetch_in_mutation)
    router.route(path="/a", method="GET", handler=whoami)
    with pytest.raises(RouteError, match="routed twice"):
        router.route(path="/a", method="get", handler=whoami)
