"""A sharded counter component (after ``@convex-dev/sharded-counter``).

A count kept in several documents (shards): each ``add`` touches one shard
picked at random, so concurrent adds rarely conflict, while ``count`` reads
them all. Install it with ``app.use(sharded_counter.component, name="counter")``
and call ``components.counter.lib.add`` / ``components.counter.lib.count``.
"""

from __future__ import annotations

from ...schema import define_schema, define_table
from ...validators import v
from ..definition import define_component

#: How many shards a counter uses unless ``add`` says otherwise.
DEFAULT_SHARDS = 16

schema = define_schema({
    "counters": define_table({"name": v.string(), "shard": v.int64(), "value": v.float64()})
    .index("by_name_shard", ["name", "shard"]),
})

component = define_component("shardedCounter", schema=schema, modules=__name__)
