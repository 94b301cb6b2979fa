import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();

crons.interval("sweep expired holds", { hours: 1 }, internal.inventory.sweepExpired, {});

export default crons;
