"""The ``audit`` component: an append-only log that counts its entries in a sharded counter
it installs itself (a component using a component)."""

from convex_sim import define_component, define_schema, define_table, v
from convex_sim.component import sharded_counter

schema = define_schema({"entries": define_table({"what": v.string()})})

component = define_component("audit", schema=schema, modules=__name__)
component.use(sharded_counter.component, name="tally")
