"""HTTP actions: an ``HttpRouter`` in the app's ``http`` module, served by ``sim.fetch``.

::

    # myapp/http.py
    from convex_sim import HttpRouter, http_action
    import httpx

    @http_action
    async def webhook(ctx, request: httpx.Request) -> httpx.Response:
        await ctx.run_mutation("events:record", {"body": request.content.decode()})
        return httpx.Response(200, json={"ok": True})

    http = HttpRouter()
    http.route(path="/webhook", method="POST", handler=webhook)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from .errors import ConvexSimError
from .functions import HTTP_ACTION, PUBLIC, ConvexFunction

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
#: Where a simulator serves HTTP actions (``sim.fetch``), and where its storage URLs point.
SITE_ORIGIN = "https://sim.convex.site"
CLOUD_ORIGIN = "https://sim.convex.cloud"


def deployment_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """A deployment's environment variables: ``env`` over the two every Convex deployment has,
    ``CONVEX_CLOUD_URL`` and ``CONVEX_SITE_URL`` (the simulator's origins)."""
    return {"CONVEX_CLOUD_URL": CLOUD_ORIGIN, "CONVEX_SITE_URL": SITE_ORIGIN, **(env or {})}


class RouteError(ConvexSimError):
    """A route that Convex's router would reject."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    prefix: bool
    handler: ConvexFunction


class HttpRouter:
    """Routes of the app's HTTP actions (Convex's ``httpRouter()``)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(self, *, method: str, handler: ConvexFunction, path: str | None = None,
              path_prefix: str | None = None) -> None:
        """Serve ``method`` on ``path`` exactly, or on every path under ``path_prefix`` (ends in ``/``)."""
        method = method.upper() if isinstance(method, str) else method
        if method not in METHODS:
            raise RouteError(f"http.route: method must be one of {list(METHODS)}, got {method!r}")
        if (path is None) == (path_prefix is None):
            raise RouteError("http.route: give exactly one of path= or path_prefix=")
        where = path if path is not None else path_prefix
        if not isinstance(where, str) or not where.startswith("/"):
            raise RouteError(f"http.route: paths start with '/', got {where!r}")
        if path_prefix is not None and not path_prefix.endswith("/"):
            raise RouteError(f"http.route: path_prefix must end with '/', got {path_prefix!r}")
        if not isinstance(handler, ConvexFunction) or handler.kind != HTTP_ACTION:
            raise RouteError(f"http.route({where!r}): the handler must be an @http_action, got {handler!r}")
        for existing in self.routes:
            if existing.method == method and existing.path == where and existing.prefix == (path_prefix is not None):
                raise RouteError(f"http.route: {method} {where} is routed twice.")
        self.routes.append(Route(method, where, path_prefix is not None, handler))

    def cors(self, *, path: str | None = None, path_prefix: str | None = None,
             allowed_origin: str = "*", allowed_methods: Sequence[str] = ("GET", "POST"),
             allowed_headers: Sequence[str] = ("Content-Type", "Authorization"),
             max_age_s: int = 86_400) -> None:
        """Answer CORS preflight (``OPTIONS``) requests for a path or prefix."""
        headers = {
            "Access-Control-Allow-Origin": allowed_origin,
            "Access-Control-Allow-Methods": ", ".join(m.upper() for m in allowed_methods),
            "Access-Control-Allow-Headers": ", ".join(allowed_headers),
            "Access-Control-Max-Age": str(max_age_s),
            "Vary": "Origin",
        }

        async def preflight(ctx: object, request: httpx.Request) -> httpx.Response:
            return httpx.Response(204, headers=headers)

        handler = ConvexFunction(HTTP_ACTION, PUBLIC, preflight, None, None)
        handler.path = f"http:cors {path or path_prefix}"
        self.route(method="OPTIONS", handler=handler, path=path, path_prefix=path_prefix)

    def lookup(self, method: str, path: str) -> Route | None:
        """The route for a request: an exact path first, then the longest matching prefix."""
        for route in self.routes:
            if not route.prefix and route.method == method and route.path == path:
                return route
        prefixed = [r for r in self.routes if r.prefix and r.method == method and path.startswith(r.path)]
        return max(prefixed, key=lambda r: len(r.path), default=None)


def not_found(request: httpx.Request) -> httpx.Response:
    """Convex's answer for an unrouted request."""
    return httpx.Response(404, text=f"No HttpAction routed for {request.url.path}", request=request)
