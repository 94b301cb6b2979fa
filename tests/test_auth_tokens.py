"""Malformed and mismatched tokens: each one is an AuthError (401 over HTTP), never a crash.

RFC 7519 section 4.1.4: a token "MUST NOT be accepted for processing" on or after its ``exp``;
section 4.1.5: not before its ``nbf``; section 2: both are NumericDates, JSON numbers.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convex_sim import ConvexSim, HttpRouter, http_action, query
from convex_sim.auth import AuthError, TestIssuer
from convex_sim.clock import DEFAULT_START_MS
from convex_sim.functions import Registry

ISSUER = TestIssuer(domain="https://issuer.test", application_id="app")
NOW_S = DEFAULT_START_MS // 1000


@query(args={})
def whoami(ctx, args):
    user = ctx.auth.get_user_identity()
    return None if user is None else user.subject


@http_action
async def whoami_http(ctx, request):
    user = ctx.auth.get_user_identity()
    return httpx.Response(200, json={"subject": user.subject if user else None})


def make_sim() -> ConvexSim:
    registry = Registry()
    registry.register("auth:whoami", whoami)
    registry.register("auth:whoami_http", whoami_http)
    router = HttpRouter()
    router.route(path="/whoami", method="GET", handler=whoami_http)
    registry.modules["http"] = type("HttpModule", (), {"http": router})
    return ConvexSim(None, registry, auth_providers=[ISSUER.provider])


SIM = make_sim()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rs256(signing_input: bytes) -> bytes:
    return ISSUER._private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def forge(header: Any, payload: Any, *, sign: bool = True) -> str:
    """A token of any header and payload (NaN and all), signed with the issuer's RSA key."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(payload).encode())
    signature = rs256(f"{head}.{body}".encode()) if sign else b"\0" * 256
    return f"{head}.{body}.{b64(signature)}"


def claims(**changes: Any) -> dict:
    payload = {"iss": ISSUER.domain, "aud": ISSUER.application_id, "sub": "ada",
               "iat": NOW_S, "exp": NOW_S + 3600}
    payload.update(changes)
    return {k: x for k, x in payload.items() if x is not ...}


def header(**changes: Any) -> dict:
    return {"alg": "RS256", "typ": "JWT", "kid": ISSUER.key_id, **changes}


def assert_refused(token: str, match: str = "") -> None:
    """``with_token`` raises AuthError, and ``sim.fetch`` with the token answers 401."""
    with pytest.raises(AuthError, match=match):
        SIM.with_token(token)
    response = SIM.fetch("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text


def test_a_well_formed_token_is_accepted():
    token = forge(header(), claims())
    assert SIM.with_token(token).query("auth:whoami", {}) == "ada"
    assert SIM.fetch("/whoami", headers={"Authorization": f"Bearer {token}"}).json() == {"subject": "ada"}


def test_es256_header_with_the_providers_rsa_kid_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": ISSUER.key_id})
    assert_refused(token, "ES256")


def test_rs256_token_signed_as_es256_claims_the_wrong_algorithm():
    assert_refused(forge(header(alg="ES256"), claims()), "ES256")


@pytest.mark.parametrize("claim", ["exp", "nbf"])
@pytest.mark.parametrize("value", ["abc", [NOW_S], {"at": NOW_S}, True, None, str(NOW_S + 3600)],
                         ids=["text", "list", "object", "boolean", "null", "numeric-text"])
def test_exp_and_nbf_must_be_numbers(claim, value):
    assert_refused(forge(header(), claims(**{claim: value})), f"'{claim}'")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("claim", ["exp", "nbf"])
def test_exp_and_nbf_must_be_finite(claim, value):
    assert_refused(forge(header(), claims(**{claim: value})), f"'{claim}'")


def test_integer_dates_past_floats_range_are_far_future_or_far_past():
    """JSON integers have no bound: an ``exp`` of 10**400 never expires, an ``nbf`` of
    -10**400 is always past, and neither overflows converting to seconds."""
    sim = make_sim()
    assert sim.with_token(forge(header(), claims(exp=10**400, nbf=-10**400))).query("auth:whoami", {}) == "ada"
    assert_refused(forge(header(), claims(exp=-10**400)), "expired")


def test_a_token_is_refused_from_the_second_of_its_exp():
    """RFC 7519 4.1.4: "on or after" ``exp`` the token is not accepted."""
    sim = make_sim()
    token = forge(header(), claims(exp=sim.clock / 1000 + 10))
    handle = sim.with_token(token)
    sim.advance_time(9_999)
    assert handle.query("auth:whoami", {}) == "ada"
    sim.advance_time(1)
    with pytest.raises(AuthError, match="expired"):
        handle.query("auth:whoami", {})


def test_a_token_is_accepted_from_the_second_of_its_nbf():
    sim = make_sim()
    handle = sim.with_token(forge(header(), claims(nbf=sim.clock / 1000)))
    assert handle.query("auth:whoami", {}) == "ada"


# --- Hypothesis: whatever the token, AuthError or an identity -----------------------------

JSON_SCALARS = (st.none() | st.booleans() | st.integers(-(10**30), 10**30)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
TIMES = (st.integers(NOW_S - 10**6, NOW_S + 10**6) | st.floats(allow_nan=True, allow_infinity=True)
         | st.sampled_from([NOW_S, NOW_S + 1, "abc", [NOW_S], None, True, 10**400, -(10**400)]) | JSON_VALUES)
#: Values each header field or claim may be given: plausible ones, then anything.
FIELDS = {
    "header": {
        "alg": st.sampled_from(["RS256", "ES256", "HS256", "none", "PS256", "RS512", "", "rs256"]),
        "kid": st.sampled_from([ISSUER.key_id, "other-key", ""]),
        "typ": st.sampled_from(["JWT", "at+jwt"]),
        "crit": st.sampled_from([["exp"], []]),
    },
    "payload": {
        "iss": st.sampled_from([ISSUER.domain, ISSUER.domain + "/", "https://other.test"]),
        "aud": st.sampled_from([ISSUER.application_id, [ISSUER.application_id], "other"]),
        "sub": st.sampled_from(["ada", ""]),
        "exp": TIMES, "nbf": TIMES, "iat": TIMES,
        "name": JSON_VALUES, "email": JSON_VALUES, "extra": JSON_VALUES,
    },
}
EC_KEY = ec.generate_private_key(ec.SECP256R1())


@functools.cache
def es256(signing_input: bytes) -> bytes:
    """An ES256 signature, the same each time (ECDSA draws a random nonce): Hypothesis replays
    a token by drawing the same choices again."""
    return EC_KEY.sign(signing_input, ec.ECDSA(hashes.SHA256()))

#: Damage done to the finished token; mostly none, so that the claims get checked.
DAMAGE = ["none"] * 6 + ["truncate", "bad-base64", "drop", "add", "swap", "raw"]


@st.composite
def tokens(draw: st.DrawFn) -> str:
    """A good token changed a little: header fields and claims set to plausible or odd values
    or removed, the header or payload replaced by any JSON, signed with the issuer's key,
    another key or nothing, then maybe damaged (truncated, bad base64, parts added, removed
    or swapped, or just text)."""
    parts: dict[str, Any] = {"header": header(), "payload": claims()}
    for _ in range(draw(st.integers(0, 3))):
        part = draw(st.sampled_from(["header", "payload"]))
        name = draw(st.sampled_from(sorted(FIELDS[part])))
        change = draw(st.sampled_from(["plausible", "any", "remove", "replace-all"]))
        if change == "plausible":
            parts[part][name] = draw(FIELDS[part][name])
        elif change == "any":
            parts[part][name] = draw(JSON_VALUES)
        elif change == "remove":
            parts[part].pop(name, None)
        else:
            parts[part] = draw(JSON_VALUES)
            break
    head = b64(json.dumps(parts["header"]).encode())
    body = b64(json.dumps(parts["payload"]).encode())
    signing_input = f"{head}.{body}".encode()
    signature = draw(st.sampled_from(["rs256", "rs256", "es256", "random", "empty"]))
    sig = {"rs256": lambda: b64(rs256(signing_input)),
           "es256": lambda: b64(es256(signing_input)),
           "random": lambda: b64(draw(st.binary(max_size=300))),
           "empty": lambda: ""}[signature]()
    pieces = [head, body, sig]
    damage = draw(st.sampled_from(DAMAGE))
    if damage == "truncate":
        i = draw(st.integers(0, 2))
        pieces[i] = pieces[i][: draw(st.integers(0, max(0, len(pieces[i]) - 1)))]
    elif damage == "bad-base64":
        i = draw(st.integers(0, 2))
        at = draw(st.integers(0, len(pieces[i])))
        pieces[i] = pieces[i][:at] + draw(st.sampled_from(["!", "=", "==", "*", " ", "é", "\0"])) + pieces[i][at:]
    elif damage == "drop":
        pieces.pop(draw(st.integers(0, 2)))
    elif damage == "add":
        pieces.insert(draw(st.integers(0, 3)), draw(st.text(max_size=10)))
    elif damage == "swap":
        i, j = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        pieces[i], pieces[j] = pieces[j], pieces[i]
    elif damage == "raw":
        return draw(st.text(max_size=60))
    return ".".join(pieces)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token=tokens())
def test_every_token_gives_an_identity_or_an_auth_error(token):
    try:
        handle = SIM.with_token(token)
    except AuthError:
        refused = True
    else:
        refused = False
        assert isinstance(handle.query("auth:whoami", {}), str)
    if token.isascii() and token.isprintable():
        response = SIM.fetch("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == (401 if refused else 200), response.text
