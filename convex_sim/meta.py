"""``ctx.meta``: what a running function can learn about itself (convex-js
``src/server/meta.ts``; the values come from convex-backend's ``1.0/getFunctionMetadata``
and ``1.0/getTransactionMetrics`` syscalls in ``crates/isolate/src/environment/udf/
async_syscall.rs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ConvexSimError
from .functions import ACTION, HTTP_ACTION, MUTATION, PUBLIC, QUERY, display_name

#: The name of every HTTP action: Convex runs the router, ``http.js:default`` (convex-backend
#: http_routing.rs, ``HTTP_MODULE_PATH``), whatever route matched.
HTTP_ACTION_NAME = "http"

if TYPE_CHECKING:
    from .database import Transaction
    from .functions import ConvexFunction


class Meta:
    """``ctx.meta`` of one execution."""

    __slots__ = ("_fn", "_function", "_txn")

    def __init__(self, fn: ConvexFunction | None, function: str, txn: Transaction | None) -> None:
        self._fn, self._function, self._txn = fn, function, txn

    def get_function_metadata(self) -> dict[str, Any]:
        """``{"name", "component_path", "type", "visibility"}``: ``name`` is
        ``"path/to/module:function"`` (``"path/to/module"`` for a default export, ``"http"`` in
        an HTTP action), ``component_path`` is ``""`` for the app, ``type`` is ``"query"``,
        ``"mutation"`` or ``"action"`` (HTTP actions too), ``visibility`` is ``"public"`` or
        ``"internal"``."""
        kind = self._fn.kind if self._fn is not None else (MUTATION if self._txn is not None else ACTION)
        scope = getattr(self._fn, "component", None)
        name = HTTP_ACTION_NAME if kind == HTTP_ACTION else display_name(
            getattr(self._fn, "local_path", self._function))
        return {"name": name,
                "component_path": scope.path if scope is not None else "",
                "type": ACTION if kind == HTTP_ACTION else kind,
                "visibility": self._fn.visibility if self._fn is not None else PUBLIC}

    def get_transaction_metrics(self) -> dict[str, dict[str, int]]:
        """For each transaction limit (``bytes_read``, ``bytes_written``, ``database_queries``,
        ``documents_read``, ``documents_written``, ``functions_scheduled``,
        ``scheduled_function_args_bytes``): ``{"used", "remaining"}`` so far."""
        if self._txn is None:
            raise ConvexSimError(
                f"In {self._function}: get_transaction_metrics() can only be called from a "
                f"{QUERY} or {MUTATION}. It is not available in actions.")
        return self._txn.metrics()
