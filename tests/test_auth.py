"""Auth with real tokens: TestIssuer, JWKS (inline or fetched), every rejection class."""

import base64

import jwt
import pytest
import respx

from convex_sim import ConvexSim, query
from convex_sim.auth import AuthError, TestIssuer
from convex_sim.functions import Registry


@query(args={})
def whoami(ctx, args):
    user = ctx.auth.get_user_identity()
    if user is None:
        return None
    return {"subject": user.subject, "issuer": user.issuer, "token": user.token_identifier,
            "name": user.name, "email": user.email, "picture": user.picture_url, "claims": dict(user.claims)}


@pytest.fixture(scope="module")
def issuer():
    return TestIssuer(domain="https://issuer.test", application_id="app")


def sim_with(*providers):
    registry = Registry()
    registry.register("auth:whoami", whoami)
    return ConvexSim(None, registry, auth_providers=list(providers))


def test_valid_token_maps_claims_to_identity(issuer):
    sim = sim_with(issuer.provider)
    token = issuer.token("user-1", name="Ada", email="ada@example.com", picture="https://p/1.png", team="core")
    assert sim.with_token(token).query("auth:whoami", {}) == {
        "subject": "user-1", "issuer": "https://issuer.test", "token": "https://issuer.test|user-1",
        "name": "Ada", "email": "ada@example.com", "picture": "https://p/1.png", "claims": {"team": "core"}}
    assert sim.query("auth:whoami", {}) is None


def test_expired_token_and_expiry_on_the_virtual_clock(issuer):
    sim = sim_with(issuer.provider)
    handle = sim.with_token(issuer.token("u", expires_in_s=60))
    assert handle.query("auth:whoami", {})["subject"] == "u"
    sim.advance_time(61_000)
    with pytest.raises(AuthError, match="Token expired at"):
        handle.query("auth:whoami", {})
    with pytest.raises(AuthError, match="expired"):
        sim.with_token(issuer.token("u", expires_in_s=-1))


def test_not_yet_valid(issuer):
    sim = sim_with(issuer.provider)
    with pytest.raises(AuthError, match="not valid before"):
        sim.with_token(issuer.token("u", nbf=int(sim.clock / 1000) + 600))


def test_wrong_issuer(issuer):
    other = TestIssuer(domain="https://evil.test", application_id="app")
    sim = sim_with(issuer.provider)
    with pytest.raises(AuthError, match=r"No auth provider for issuer 'https://evil\.test'"):
        sim.with_token(other.token("u"))


def test_wrong_audience(issuer):
    sim = sim_with(issuer.provider)
    with pytest.raises(AuthError, match="audience 'other-app' is not this app's application_id 'app'"):
        sim.with_token(issuer.token("u", aud="other-app"))


def test_bad_signature(issuer):
    sim = sim_with(issuer.provider)
    header, payload, signature = issuer.token("u").split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0xFF
    tampered = ".".join([header, payload, base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")])
    with pytest.raises(AuthError, match="signature verification failed"):
        sim.with_token(tampered)
    forged_payload = base64.urlsafe_b64encode(b'{"iss":"https://issuer.test","aud":"app","sub":"admin"}')
    with pytest.raises(AuthError, match="signature verification failed"):
        sim.with_token(".".join([header, forged_payload.decode().rstrip("="), signature]))


def test_a_key_the_provider_does_not_have(issuer):
    impostor = TestIssuer(domain="https://issuer.test", application_id="app")
    sim = sim_with(issuer.provider)
    with pytest.raises(AuthError, match="has no key with kid"):
        sim.with_token(impostor.token("u"))


def test_alg_none_and_hmac_are_refused(issuer):
    sim = sim_with(issuer.provider)
    unsigned = jwt.encode({"iss": "https://issuer.test", "aud": "app", "sub": "u"}, None, algorithm="none")
    with pytest.raises(AuthError, match="algorithm 'none' is not allowed"):
        sim.with_token(unsigned)
    hmac = jwt.encode({"iss": "https://issuer.test", "aud": "app", "sub": "u"}, "secret-key-long-enough-32-bytes!",
                      algorithm="HS256")
    with pytest.raises(AuthError, match="algorithm 'HS256' is not allowed"):
        sim.with_token(hmac)
    with pytest.raises(AuthError, match="Not a JWT"):
        sim.with_token("garbage")


def test_jwks_fetched_over_httpx_mocked_with_respx(issuer):
    sim = sim_with({"domain": issuer.domain, "application_id": issuer.application_id})
    with respx.mock:
        route = respx.get("https://issuer.test/.well-known/jwks.json").respond(json=issuer.jwks)
        assert sim.with_token(issuer.token("fetched")).query("auth:whoami", {})["subject"] == "fetched"
        sim.with_token(issuer.token("again"))
    assert route.call_count == 1  # cached per provider


def test_bad_provider_config():
    with pytest.raises(AuthError, match=r"auth_providers\[0\]"):
        sim_with({"domain": "https://x"})
