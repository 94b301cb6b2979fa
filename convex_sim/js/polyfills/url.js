// WHATWG URL and URLSearchParams (core-js-pure), loaded on first use (see entry.js).
export { default as URL } from "core-js-pure/actual/url/index.js";
export { default as URLSearchParams } from "core-js-pure/actual/url-search-params/index.js";
