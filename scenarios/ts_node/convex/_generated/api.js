/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * Hand-written equivalent of what `npx convex dev` generates.
 */

import { anyApi } from "convex/server";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
export const api = anyApi;
export const internal = anyApi;
