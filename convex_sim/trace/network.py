"""Outbound HTTP from actions, seen at httpx's ``send``: recorded while a trace is being
written, answered from the trace while one is replayed (so replay needs no network).

One wrapper is installed on ``httpx.Client.send`` and ``httpx.AsyncClient.send`` the
first time it is needed and stays; with no interceptor set it only passes through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from ..values import from_json, to_json

#: The active interceptor: ``(request, send) -> response``, or None.
_interceptor: Callable[[httpx.Request, Callable[[], httpx.Response]], httpx.Response] | None = None
_async_interceptor: Any = None
_installed = False


def _install() -> None:
    global _installed
    if _installed:
        return
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(self: Any, request: httpx.Request, *args: Any, **kwargs: Any) -> Any:
        if _interceptor is None:
            return sync_send(self, request, *args, **kwargs)

        def real() -> httpx.Response:
            response = sync_send(self, request, *args, **kwargs)
            response.read()
            return response
        return _interceptor(request, real)

    async def asend(self: Any, request: httpx.Request, *args: Any, **kwargs: Any) -> Any:
        if _async_interceptor is None:
            return await async_send(self, request, *args, **kwargs)
        return await _async_interceptor(self, request, async_send, args, kwargs)

    httpx.Client.send = send  # type: ignore[method-assign]
    httpx.AsyncClient.send = asend  # type: ignore[method-assign]
    _installed = True


def encode_request(request: httpx.Request) -> dict:
    """The parts of an outbound request a trace keeps."""
    return {"method": request.method, "url": str(request.url),
            "headers": dict(request.headers), "body": to_json(request.content)}


def encode_response(response: httpx.Response) -> dict:
    """The parts of a response a trace keeps (its body as bytes)."""
    return {"status": response.status_code, "response_headers": dict(response.headers),
            "response_body": to_json(response.content)}


def decode_response(event: dict, request: httpx.Request) -> httpx.Response:
    """The recorded response of a ``fetch`` event, as an httpx response to ``request``."""
    headers = {k: x for k, x in event.get("response_headers", {}).items()
               if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")}
    return httpx.Response(event["status"], headers=headers,
                          content=from_json(event.get("response_body")) or b"", request=request)


def intercept(on_request: Callable[[httpx.Request, Callable[[], httpx.Response] | None], httpx.Response] | None,
              record: bool) -> None:
    """Route every outbound httpx request through ``on_request(request, send)``; ``send``
    performs the real request (None when replaying: the answer must come from the trace).
    ``None`` restores pass-through."""
    global _interceptor, _async_interceptor
    _install()
    if on_request is None:
        _interceptor = _async_interceptor = None
        return

    def sync(request: httpx.Request, real: Callable[[], httpx.Response]) -> httpx.Response:
        return on_request(request, real if record else None)

    async def asynchronous(client: Any, request: httpx.Request, async_send: Any,
                           args: tuple, kwargs: dict) -> httpx.Response:
        if not record:
            return on_request(request, None)
        response = await async_send(client, request, *args, **kwargs)
        await response.aread()
        return on_request(request, lambda: response)

    _interceptor, _async_interceptor = sync, asynchronous
