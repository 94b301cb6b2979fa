/* eslint-disable */
/**
 * Generated utilities for implementing server-side Convex query and mutation functions.
 *
 * Hand-written equivalent of what `npx convex dev` generates.
 */

import {
  actionGeneric,
  httpActionGeneric,
  queryGeneric,
  mutationGeneric,
  internalActionGeneric,
  internalMutationGeneric,
  internalQueryGeneric,
} from "convex/server";

/** Define a query in this Convex app's public API. */
export const query = queryGeneric;

/** Define a query that is only accessible from other Convex functions. */
export const internalQuery = internalQueryGeneric;

/** Define a mutation in this Convex app's public API. */
export const mutation = mutationGeneric;

/** Define a mutation that is only accessible from other Convex functions. */
export const internalMutation = internalMutationGeneric;

/** Define an action in this Convex app's public API. */
export const action = actionGeneric;

/** Define an action that is only accessible from other Convex functions. */
export const internalAction = internalActionGeneric;

/** Define an HTTP action. Route it in `convex/http.ts`. */
export const httpAction = httpActionGeneric;
