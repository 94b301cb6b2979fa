"""Auth: OIDC tokens validated for real (PyJWT), and ``TestIssuer`` to mint them.

::

    from convex_sim.auth import TestIssuer
    issuer = TestIssuer(domain="https://issuer.test", application_id="app")
    sim = ConvexSim(schema, modules="myapp", auth_providers=[issuer.provider])
    ada = sim.with_token(issuer.token("ada", name="Ada"))

A token is checked as Convex checks it: signature against the provider's
JWKS (given in the provider dict as ``"jwks"``, or fetched with httpx from
``{domain}/.well-known/jwks.json``, which tests mock with respx), issuer
(``domain``), audience (``application_id``), and ``exp``/``nbf`` against the
virtual clock. Every rejection is an :class:`AuthError` that says why.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from .clock import DEFAULT_START_MS, iso_ms
from .errors import ConvexSimError
from .runtime import UserIdentity

ALLOWED_ALGORITHMS = ("RS256", "ES256")

# OIDC claim -> UserIdentity field (Convex's names, snake_case).
_CLAIMS = {
    "name": "name", "given_name": "given_name", "family_name": "family_name",
    "nickname": "nickname", "preferred_username": "preferred_username", "profile": "profile_url",
    "picture": "picture_url", "email": "email", "email_verified": "email_verified",
    "gender": "gender", "birthdate": "birthday", "zoneinfo": "timezone", "locale": "language",
    "phone_number": "phone_number", "phone_number_verified": "phone_number_verified",
    "address": "address", "updated_at": "updated_at",
}
_REGISTERED = {"sub", "iss", "aud", "exp", "nbf", "iat", "jti"}


class AuthError(ConvexSimError):
    """A token that does not prove an identity: expired, wrong issuer or audience, bad signature, ..."""


def _jwt() -> Any:
    """PyJWT, imported on first use: with cryptography it is an eighth of the package's import
    time, and most processes (a CLI run, a suite without auth) never see a token."""
    import jwt

    return jwt


class TestIssuer:
    """An OIDC issuer for tests: an RSA key pair, its JWKS, and a token minter."""

    __test__ = False  # not a pytest test class
    _kids = itertools.count(1)

    def __init__(self, domain: str = "https://issuer.test", application_id: str = "app") -> None:
        self.domain = domain
        self.application_id = application_id
        self.key_id = f"test-key-{next(self._kids)}"
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwks(self) -> dict[str, Any]:
        """The public key set, as ``{domain}/.well-known/jwks.json`` would serve it."""
        jwk = json.loads(_jwt().algorithms.RSAAlgorithm.to_jwk(self._private_key.public_key()))
        jwk.update({"kid": self.key_id, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    @property
    def provider(self) -> dict[str, Any]:
        """The entry for ``ConvexSim(..., auth_providers=[...])``."""
        return {"domain": self.domain, "application_id": self.application_id, "jwks": self.jwks}

    def token(self, subject: str, expires_in_s: float = 3600, *, issued_at_s: float | None = None,
              **claims: Any) -> str:
        """An RS256 JWT for ``subject``. ``issued_at_s`` defaults to the simulator's default start
        time; other keyword arguments become claims (``name=``, ``email=``, ``aud=``, ...)."""
        issued = DEFAULT_START_MS / 1000 if issued_at_s is None else issued_at_s
        payload = {"iss": self.domain, "aud": self.application_id, "sub": subject,
                   "iat": int(issued), "exp": int(issued + expires_in_s), **claims}
        return _jwt().encode(payload, self._private_key, algorithm="RS256", headers={"kid": self.key_id})


class AuthService:
    """Validates tokens against the configured providers, on the virtual clock."""

    def __init__(self, providers: Sequence[Mapping[str, Any]], now_ms: Callable[[], float]) -> None:
        self._providers: dict[str, Mapping[str, Any]] = {}
        for i, provider in enumerate(providers):
            if not isinstance(provider, Mapping) or not isinstance(provider.get("domain"), str) \
                    or not isinstance(provider.get("application_id"), str):
                raise AuthError(
                    f"auth_providers[{i}]: expected {{'domain': str, 'application_id': str, "
                    f"'jwks': optional dict}}, got {provider!r}")
            self._providers[provider["domain"].rstrip("/")] = provider
        self._now_ms = now_ms
        self._jwks: dict[str, Mapping[str, Any]] = {}

    def identity(self, token: Any) -> UserIdentity:
        """The identity ``token`` proves, or an AuthError saying why not."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise AuthError(f"Not a JWT (expected three dot-separated parts): {str(token)[:40]!r}")
        jwt = _jwt()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, TypeError, ValueError) as exc:   # PyJWT on any text: all of them
            raise AuthError(f"Malformed JWT: {exc}") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthError(f"Token algorithm {alg!r} is not allowed; expected one of {list(ALLOWED_ALGORITHMS)}.")
        issuer = str(unverified.get("iss", "")).rstrip("/")
        provider = self._providers.get(issuer)
        if provider is None:
            known = ", ".join(self._providers) or "none configured"
            raise AuthError(f"No auth provider for issuer {unverified.get('iss')!r} (providers: {known}).")
        key = self._key(provider, header.get("kid"))
        if alg != key.algorithm_name:
            raise AuthError(f"Token algorithm {alg!r} does not match the algorithm of key "
                            f"{header.get('kid')!r} of issuer {issuer!r} ({key.algorithm_name}).")
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=provider["application_id"],
                issuer=unverified.get("iss"),
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "require": ["sub", "iss", "aud"]})
        except jwt.InvalidAudienceError:
            raise AuthError(f"Token audience {unverified.get('aud')!r} is not this app's application_id "
                            f"{provider['application_id']!r}.") from None
        except jwt.InvalidSignatureError:
            raise AuthError(f"Token signature verification failed for issuer {issuer!r}.") from None
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise AuthError(f"Invalid token: {exc}") from None
        self._check_times(claims)
        return _identity_from_claims(claims)

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        """``exp`` and ``nbf`` against the virtual clock: refused on or after ``exp`` and before
        ``nbf`` (RFC 7519 4.1.4, 4.1.5)."""
        now_s = self._now_ms() / 1000
        exp, nbf = _numeric_date(claims, "exp"), _numeric_date(claims, "nbf")
        if exp is not None and now_s >= exp:
            raise AuthError(f"Token expired at {_iso(exp)} (virtual clock: {_iso(now_s)}).")
        if nbf is not None and now_s < nbf:
            raise AuthError(f"Token not valid before {_iso(nbf)} (virtual clock: {_iso(now_s)}).")

    def _key(self, provider: Mapping[str, Any], kid: Any) -> Any:
        """The provider's key (a ``PyJWK``, which knows its algorithm) with id ``kid``."""
        jwks = provider.get("jwks") or self._fetch_jwks(provider["domain"])
        jwt = _jwt()
        for jwk in jwks.get("keys", []):
            if kid is None or jwk.get("kid") == kid:
                try:
                    return jwt.PyJWK(jwk)
                except jwt.PyJWTError as exc:
                    raise AuthError(f"Provider {provider['domain']!r} has an unusable key {kid!r}: {exc}") from None
        raise AuthError(f"Provider {provider['domain']!r} has no key with kid {kid!r}.")

    def _fetch_jwks(self, domain: str) -> Mapping[str, Any]:
        if domain not in self._jwks:
            url = f"{domain.rstrip('/')}/.well-known/jwks.json"
            try:
                response = httpx.get(url)
                response.raise_for_status()
                self._jwks[domain] = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise AuthError(f"Could not fetch the JWKS of {domain!r} from {url}: {exc}") from None
        return self._jwks[domain]


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """Claim ``name`` as epoch seconds (None when absent), or an AuthError if it is not a
    NumericDate: a finite JSON number (RFC 7519 section 2)."""
    if name not in claims:
        return None
    value = claims[name]
    if type(value) is int:   # JSON integers have no bound: one past float's range is far future
        return float(value) if abs(value) < 2**1023 else (math.inf if value > 0 else -math.inf)
    if type(value) is not float or not math.isfinite(value):
        raise AuthError(f"Token claim {name!r} must be a NumericDate (a finite number of seconds), "
                        f"got {str(value)[:40]!r}.")
    return value


def _iso(seconds: Any) -> str:
    """Epoch seconds as ``1704067200 (2024-01-01T00:00:00Z)``: raw for the token, ISO to read."""
    try:
        return f"{float(seconds):.0f} ({iso_ms(float(seconds) * 1000.0)})"
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def _identity_from_claims(claims: Mapping[str, Any]) -> UserIdentity:
    fields = {field: claims[claim] for claim, field in _CLAIMS.items() if claim in claims}
    extra = {k: x for k, x in claims.items() if k not in _CLAIMS and k not in _REGISTERED}
    subject, issuer = str(claims["sub"]), str(claims["iss"])
    return UserIdentity(token_identifier=f"{issuer}|{subject}", subject=subject, issuer=issuer,
                        **fields, claims=extra)
