/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * Hand-written equivalent of what `npx convex dev` generates.
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as bank from "../bank.js";
import type * as crons from "../crons.js";
import type * as errors from "../errors.js";
import type * as files from "../files.js";
import type * as handles from "../handles.js";
import type * as http from "../http.js";
import type * as jobs from "../jobs.js";
import type * as messages from "../messages.js";
import type * as outbound from "../outbound.js";
import type * as tasks from "../tasks.js";
import type * as vectors from "../vectors.js";

declare const fullApi: ApiFromModules<{
  bank: typeof bank;
  crons: typeof crons;
  errors: typeof errors;
  files: typeof files;
  handles: typeof handles;
  http: typeof http;
  jobs: typeof jobs;
  messages: typeof messages;
  outbound: typeof outbound;
  tasks: typeof tasks;
  vectors: typeof vectors;
}>;

/**
 * A utility for referencing Convex functions in your app's public API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;

/**
 * A utility for referencing Convex functions in your app's internal API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = internal.myModule.myFunction;
 * ```
 */
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
