import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();

crons.interval("hourly tick", { hours: 1 }, internal.jobs.tick, {
  body: "hourly",
});

export default crons;
