import { defineApp } from "convex/server";
import aggregate from "@convex-dev/aggregate/convex.config";
import shardedCounter from "@convex-dev/sharded-counter/convex.config";
import rateLimiter from "@convex-dev/rate-limiter/convex.config";
import workpool from "@convex-dev/workpool/convex.config";
import tally from "../tally/convex.config";

const app = defineApp();
app.use(shardedCounter);
app.use(rateLimiter);
app.use(workpool, { name: "pool" });
app.use(aggregate, { name: "scores" });
app.use(tally, { name: "tallyA" });
app.use(tally, { name: "tallyB" });
export default app;
