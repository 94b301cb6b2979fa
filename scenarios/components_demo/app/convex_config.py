"""Which components the app installs (Convex's ``convex/convex.config.ts``)."""

from convex_sim import define_app
from convex_sim.component import rate_limiter, sharded_counter

from ..audit import component as audit

app = define_app()
app.use(sharded_counter.component, name="counter")
app.use(rate_limiter.component, name="limiter_a")
app.use(rate_limiter.component, name="limiter_b")
app.use(audit, name="audit")
