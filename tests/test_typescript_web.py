"""Web APIs of Convex's runtime in TypeScript apps: a Hono app behind the HTTP router, and
functions using text, URL, streams, bodies, FormData, events, abort signals and crypto.subtle
(scenarios/ts_web). Each expected value differs from what a missing or wrong API gives."""

import base64
import hashlib
import hmac
import re

import httpx
import pytest
import respx

from convex_sim import ConvexSim
from scenarios.ts_web import PROJECT
from tests.conftest import prepared_project


@pytest.fixture(scope="module")
def web_project():
    return prepared_project(PROJECT)


@pytest.fixture
def web(web_project):
    return ConvexSim.from_project(web_project, seed=0)


# --- Hono through HttpRouterWithHono ----------------------------------------------------------

def test_hono_text_route_sends_its_body_and_the_middleware_header(web):
    response = web.fetch("/hello/ada")
    assert response.status_code == 200
    assert response.text == "hello ada"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-powered-by"] == "hono"


def test_hono_json_route_with_status_headers_and_query(web):
    response = web.fetch("/json?q=convex&tag=a&tag=b")
    assert response.status_code == 201
    assert response.json() == {"ok": True, "q": "convex", "tags": ["a", "b"]}
    assert response.headers["x-custom"] == "yes"
    assert response.headers["content-type"].startswith("application/json")


def test_hono_post_reads_the_json_body_and_calls_convex(web):
    first = web.fetch("/notes", method="POST", json={"text": "four"})
    second = web.fetch("/notes", method="POST", json={"text": "sixsix"})
    assert first.status_code == 200 and first.json()["count"] == 1 and first.json()["length"] == 4
    assert second.json()["count"] == 2 and second.json()["length"] == 6
    assert web.query("notes:count", {}) == 2


def test_hono_parses_a_multipart_form_with_a_file(web):
    body, content_type = httpx_multipart({"name": "ada"}, ("file", "n.txt", b"file text", "text/plain"))
    response = web.fetch("/form", method="POST", content=body, headers={"content-type": content_type})
    assert response.json() == {"name": "ada", "file": {"name": "n.txt", "type": "text/plain", "text": "file text"}}


def test_hono_streamed_responses_are_read_to_the_end(web):
    streamed = web.fetch("/stream")
    assert streamed.status_code == 200 and streamed.text == "one two three\n"
    raw = web.fetch("/raw")
    assert raw.status_code == 202 and raw.text == "streamed by hand"


def test_a_stream_of_non_bytes_fails_loudly_instead_of_sending_an_empty_body(web):
    response = web.fetch("/bad-stream")
    assert response.status_code == 500
    assert "TypeError: A body stream gave a chunk that is not a Uint8Array" in response.text


def test_hono_not_found_handler(web):
    response = web.fetch("/missing/page")
    assert response.status_code == 404 and response.text == "nothing at /missing/page"


def httpx_multipart(fields: dict[str, str], file: tuple[str, str, bytes, str]) -> tuple[bytes, str]:
    """A multipart/form-data body as an HTTP client sends it."""
    name, filename, content, type_ = file
    request = httpx.Request("POST", "https://x.test", data=fields, files={name: (filename, content, type_)})
    return request.read(), request.headers["content-type"]


# --- the web APIs in functions ---------------------------------------------------------------

def test_text_encoding_and_base64(web):
    got = web.query("web:text", {})
    assert got["bytes"] == list("héllo €𝄞".encode())
    assert got["split"] == "héllo €𝄞"                 # a character split across two chunks
    assert got["lenient"] == "a\ufffdb"
    assert got["fatal"] == "TypeError"
    assert got["btoa"] == base64.b64encode(b"hi there").decode()
    assert got["atob"] == "hi there"


def test_url_and_search_params_are_whatwg(web):
    got = web.query("web:urls", {})
    assert got["href"] == "https://example.com:8443/docs/a%20b?x=1&tag=a%26b#top"
    assert got["origin"] == "https://example.com:8443"
    assert got["pathname"] == "/docs/a%20b"
    assert got["x"] == "1"
    assert got["params"] == "n=1&q=convex+sim"
    assert got["idn"] == "xn--mnchen-3ya.de"


def test_clone_events_abort_headers_blob_and_form_data(web):
    got = web.query("web:objects", {})
    assert got["clone"] == [True, 86400000, True, 1]
    assert got["cloneError"] == "TypeError"
    assert got["seen"] == ["ping:", "aborted"]
    assert got["reason"] == "stop" and got["aborted"] is True
    assert got["cookies"] == ["a=1", "b=2"]
    assert got["contentType"] == "text/plain"
    assert got["blob"] == [3, "text/plain", "abc", "bc"]
    assert got["form"] == ["ada", "notes.txt", "text/plain", "file body"]
    assert got["multipart"] is True


def test_bodies_are_streams_and_streams_are_bodies(web):
    got = web.action("web:bodies", {})
    assert got == {
        "rebuilt": "body text", "header": "1", "used": True, "copy": "body text",
        "viaStream": "STREAM OF TEXT", "decoded": "€uro", "json": {"a": [1.0, 2.0]},
        "buffer": "0102ff", "isStream": True,
    }


def test_crypto_subtle_digest_and_hmac(web):
    got = web.action("web:crypto_", {"secret": "whsec", "payload": "event"})
    assert got["sha256"] == hashlib.sha256(b"event").hexdigest()
    assert got["sha1"] == hashlib.sha1(b"event").hexdigest()
    assert got["hmac"] == hmac.new(b"whsec", b"event", "sha256").hexdigest()
    assert got["verified"] is True and got["forged"] is False
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", got["uuid"])
    assert got["unsupported"].startswith("NotSupportedError: crypto.subtle.encrypt is not supported")


def test_random_uuid_is_seeded(web_project):
    def uuid(seed: int) -> str:
        return ConvexSim.from_project(web_project, seed=seed).action(
            "web:crypto_", {"secret": "s", "payload": "p"})["uuid"]
    assert uuid(1) == uuid(1) != uuid(2)


def test_fetch_streams_its_request_body_and_honours_abort(web):
    with respx.mock:
        route = respx.post("https://api.example.com/echo").mock(
            side_effect=lambda request: httpx.Response(200, text=request.content.decode().upper()))
        got = web.action("web:fetches", {"url": "https://api.example.com/echo"})
    assert got == {"aborted": "AbortError", "status": 200.0, "text": "STREAMED REQUEST"}
    assert route.calls[0].request.headers["x-test"] == "1"
