"""Which Convex clients the sync endpoint accepts, as convex-backend decides it
(``crates/common/src/version.rs`` and ``ExtractClientVersion`` in ``common/src/http``).

The client version comes from the ``Convex-Client`` header when there is one
(``python-0.8.1``, ``npm-1.27.0``), else from the URL path (``/api/1.27.0/sync``, an npm
client). A path version that is not semver is refused with 400 ``InvalidClientVersion``; a
client at or below the oldest supported version of its package with 400
``ClientVersionUnsupported``. ``/api/sync`` without a version (the Python and Rust clients)
is accepted.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: ``MAJOR.MINOR.PATCH`` with an optional pre-release and build (the ``semver`` crate's syntax).
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")

#: The newest version of each package that convex-backend no longer serves
#: (``crates/common/deprecation.json``: ``unsupported``), by the package's client name.
UNSUPPORTED_AT_OR_BELOW = {"npm": "0.19.1", "python": "0.0.2", "rust": "0.0.1"}
#: Client names as the backend reads them (``ClientType::from_str``), to the package.
_PACKAGES = {"npm": "npm", "npm-cli": "npm", "actions": "npm", "python": "python",
             "python-convex": "python", "rust": "rust"}
_UPGRADE = {
    "npm": "Update your Convex npm version with `npx convex update` or `npm update`.",
    "python": "Update your Convex python version with `pip install --upgrade convex`.",
    "rust": "Update your Convex rust version with `cargo update -p convex` or by updating `Cargo.toml`.",
}


class Refusal(NamedTuple):
    """Why a connection is refused: the HTTP status, Convex's error code and message."""

    status: int
    code: str
    message: str


def _semver(text: str) -> tuple[int, int, int, int] | None:
    """``text`` as a comparable version (a pre-release sorts before its release), or None."""
    match = _SEMVER.fullmatch(text)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), 0 if pre else 1


def _split(header: str) -> tuple[str, str] | None:
    """A ``Convex-Client`` header as (client name, version), the version being the longest
    semver suffix (``my-client-0.0.1``: ``my-client``, ``0.0.1``); None if it has no ``-``."""
    parts = header.split("-")
    if len(parts) < 2:
        return None
    for n in range(1, len(parts)):
        if _semver("-".join(parts[n:])) is not None:
            return "-".join(parts[:n]), "-".join(parts[n:])
    return parts[0], "-".join(parts[1:])


def client_version_refusal(header: str | None, path_version: str | None) -> Refusal | None:
    """Why the backend would refuse a sync connection with this ``Convex-Client`` header and
    URL path version, or None when it would accept it."""
    if header:
        split = _split(header)
        if split is None:
            return Refusal(400, "InvalidClientVersion",
                           f"Failed to parse client version string: '{header}'. Expected format is "
                           "{client_name}-{semver}, e.g. my-esolang-client-0.0.1")
        client, version = split
    elif path_version is not None:
        if _semver(path_version) is None:
            return Refusal(400, "InvalidClientVersion",
                           f"Failed to parse client version: expected a semantic version like "
                           f"1.27.0 in the URL path /api/<version>/sync, got {path_version!r}")
        client, version = "npm", path_version
    else:
        return None
    package = _PACKAGES.get(client.lower())
    if package is None:
        return None
    parsed = _semver(version)
    if parsed is None or parsed <= _semver(UNSUPPORTED_AT_OR_BELOW[package]):  # type: ignore[operator]
        return Refusal(400, "ClientVersionUnsupported",
                       f"The Convex {package} package at version {version} is no longer supported. "
                       f"{_UPGRADE[package]}")
    return None
