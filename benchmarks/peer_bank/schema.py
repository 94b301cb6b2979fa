from convex_sim import define_schema, define_table, v

schema = define_schema({
    "accounts": define_table({"owner": v.string(), "balance": v.number()}).index("by_owner", ["owner"]),
})
