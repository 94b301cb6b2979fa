from convex_sim import define_schema, define_table, v

schema = define_schema({
    "tickets": define_table({
        "subject": v.string(),
        "body": v.string(),
        "requester": v.string(),
        "status": v.union(v.literal("open"), v.literal("closed")),
        "summary": v.optional(v.string()),
        "reminder": v.optional(v.id("_scheduled_functions")),
        "reminded": v.optional(v.boolean()),
        "attachment": v.optional(v.id("_storage")),
        "source_message_id": v.optional(v.string()),
    }).index("by_status", ["status"]).index("by_source_message", ["source_message_id"]),
    "digests": define_table({"day": v.string(), "open": v.int64()}),
})
