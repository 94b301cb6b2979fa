from convex_sim import define_schema, define_table, v

schema = define_schema({
    "counters": define_table({"name": v.string(), "value": v.int64()}).index("by_name", ["name"]),
    "users": define_table({"name": v.string()}).index("by_name", ["name"]),
    "slots": define_table({"n": v.int64()}),
    "orders": define_table({
        "customer": v.string(),
        "status": v.union(v.literal("placed"), v.literal("canceled")),
        "charged": v.boolean(),
    }).index("by_customer", ["customer"]),
})
