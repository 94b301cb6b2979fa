"""The real network in tests: an action's outbound HTTP request that no mock answered.

A test that reaches a real server is slow, flaky and may have effects outside it, so the
pytest fixture turns the network off (``sim.allow_network = False``): a request from an
action that respx (or another mock) does not answer raises :class:`NetworkNotAllowedError`
naming the function and the URL. The guard sits on httpcore's connection pools, the layer
respx patches, so a mocked request never reaches it and an un-mocked one (or a respx
``pass_through``) always does. Queries and mutations never reach the network at all (see
``runtime.install_network_guard``).
"""

from __future__ import annotations

from typing import Any

import httpcore

from .runtime import _CURRENT, NetworkNotAllowedError

_installed = False


def _refuse(request: httpcore.Request) -> None:
    frame = _CURRENT.get()
    if frame is None or not frame.offline:
        return
    what = f"{request.method.decode()} {bytes(request.url).decode()}"
    raise NetworkNotAllowedError(
        f"{frame.function}: the outbound request {what} was not mocked, and tests refuse the real "
        "network. Mock it with respx (the respx_mock fixture: "
        "respx_mock.get(url).respond(json=...)), or let the test reach the network with "
        "@pytest.mark.convex_allow_network (every test: --convex-allow-network; a simulator of "
        "your own: sim.allow_network = True).")


def install() -> None:
    """Put the guard on httpcore's pools (once per process; it passes everything through
    unless the running function's simulator refuses the network)."""
    global _installed
    if _installed:
        return
    sync_handle = httpcore.ConnectionPool.handle_request
    async_handle = httpcore.AsyncConnectionPool.handle_async_request

    def handle_request(self: Any, request: httpcore.Request) -> Any:
        _refuse(request)
        return sync_handle(self, request)

    async def handle_async_request(self: Any, request: httpcore.Request) -> Any:
        _refuse(request)
        return await async_handle(self, request)

    httpcore.ConnectionPool.handle_request = handle_request  # type: ignore[method-assign]
    httpcore.AsyncConnectionPool.handle_async_request = handle_async_request  # type: ignore[method-assign]
    _installed = True
