from convex_sim import define_schema, define_table, v

schema = define_schema({
    "items": define_table({"group": v.string(), "value": v.optional(v.any()), "note": v.optional(v.string())})
    .index("by_group_value", ["group", "value"]),
})
