import { defineComponent } from "convex/server";
import shardedCounter from "@convex-dev/sharded-counter/convex.config";

// A component using a component: each tally counts its marks in a sharded counter of its own.
const component = defineComponent("tally");
component.use(shardedCounter, { name: "counter" });
export default component;
