from convex_sim import define_schema, define_table, v

schema = define_schema({
    "orders": define_table({"user": v.string(), "item": v.string()}),
    # The same table name as the sharded counter's own table: components do not share tables.
    "counters": define_table({"name": v.string(), "value": v.int64()}).index("by_name", ["name"]),
})
