"""A rate limiter component (after ``@convex-dev/rate-limiter``), on the virtual clock.

``components.<name>.lib.limit({"name", "key"?, "config", "count"?, "throws"?})``
consumes ``count`` (default 1) from the limit and returns ``{"ok", "retry_after"}``;
``check`` says the same without consuming; ``reset`` forgets a limit. ``config``
is ``{"kind": "token bucket" | "fixed window", "rate", "period" (ms),
"capacity"?}``: a token bucket refills ``rate`` tokens per ``period`` up to
``capacity`` (default ``rate``); a fixed window allows ``capacity`` per window of
``period`` ms, windows starting at ``config["start"]`` (default 0).
"""

from __future__ import annotations

from ...schema import define_schema, define_table
from ...validators import v
from ..definition import define_component

schema = define_schema({
    "rate_limits": define_table({
        "name": v.string(), "key": v.optional(v.string()), "value": v.float64(), "ts": v.float64(),
    }).index("by_name_key", ["name", "key"]),
})

component = define_component("rateLimiter", schema=schema, modules=__name__)
