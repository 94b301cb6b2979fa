// Runs the project's own esbuild (the one its `convex` package depends on) with the options
// the Convex CLI uses (node_modules/convex/dist/cjs/bundler/debugBundle.js, `innerEsbuild`):
// conditions ["convex", "module"], `process.env.NODE_ENV` defined as "production", automatic
// JSX, kept names, `server-only` stubbed, `async_hooks` shimmed for the browser platform,
// `.wasm` imports compiled to WebAssembly modules, and for Node.js bundles the packages that
// convex.json's `node.externalPackages` lists left external.
//
// Input (stdin, JSON): {convexPackage, builds: [{entrySource, resolveDir, outfile, platform,
// format, target, externalPackages}]}. Output (stdout, JSON): one result per build:
// {ok, errors: [text], warnings: [text], inputs: [absolute paths read]}.
"use strict";
const fs = require("fs");
const path = require("path");

function readStdin() {
  return fs.readFileSync(0, "utf8");
}

const serverOnlyPlugin = {
  name: "convex-server-only",
  setup(build) {
    build.onResolve({ filter: /^server-only$/ }, (args) => ({ path: args.path, namespace: "server-only-stub" }));
    build.onLoad({ filter: /.*/, namespace: "server-only-stub" }, () => ({ contents: "", loader: "js" }));
  },
};

const asyncHooksShimPlugin = {
  name: "convex-async-hooks-shim",
  setup(build) {
    build.onResolve({ filter: /^(node:)?async_hooks$/ }, (args) => ({ path: args.path, namespace: "async-hooks-shim" }));
    build.onLoad({ filter: /.*/, namespace: "async-hooks-shim" }, () => ({
      contents: "export const AsyncLocalStorage = globalThis.AsyncLocalStorage;\n" +
        "export const AsyncResource = globalThis.AsyncResource;\n" +
        "export default { AsyncLocalStorage, AsyncResource };\n",
      loader: "js",
    }));
  },
};

const wasmPlugin = {
  name: "convex-wasm",
  setup(build) {
    build.onResolve({ filter: /\.wasm$/ }, (args) => {
      if (args.namespace === "wasm-stub") return { path: args.path, namespace: "wasm-binary" };
      if (args.resolveDir === "") return undefined;
      const full = path.isAbsolute(args.path) ? args.path : path.join(args.resolveDir, args.path);
      return { path: full, namespace: "wasm-stub" };
    });
    build.onLoad({ filter: /.*/, namespace: "wasm-stub" }, (args) => ({
      contents: `import wasm from ${JSON.stringify(args.path)}\nexport default new WebAssembly.Module(wasm)`,
    }));
    build.onLoad({ filter: /.*/, namespace: "wasm-binary" }, async (args) => ({
      contents: await fs.promises.readFile(args.path),
      loader: "binary",
    }));
  },
};

// A bare import's package name: "@scope/name/sub" -> "@scope/name", "name/sub" -> "name".
function packageName(importPath) {
  const parts = importPath.split("/");
  return importPath.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

function externalPlugin(externalPackages) {
  const all = externalPackages.includes("*");
  return {
    name: "convex-node-externals",
    setup(build) {
      build.onResolve({ namespace: "file", filter: /.*/ }, (args) => {
        if (args.path.startsWith(".") || path.isAbsolute(args.path)) return null;
        const name = packageName(args.path);
        if (name === "convex" || !(all || externalPackages.includes(name))) return null;
        return { path: args.path, external: true };
      });
    },
  };
}

function format(esbuild, messages, kind) {
  if (!messages.length) return [];
  return esbuild.formatMessagesSync(messages, { kind, color: false }).map((m) => m.trimEnd());
}

async function runBuild(esbuild, spec) {
  const plugins = [serverOnlyPlugin];
  if (spec.platform === "browser") plugins.unshift(asyncHooksShimPlugin);
  if (spec.externalPackages.length) plugins.push(externalPlugin(spec.externalPackages));
  plugins.push(wasmPlugin);
  try {
    const result = await esbuild.build({
      stdin: { contents: spec.entrySource, resolveDir: spec.resolveDir, sourcefile: "convex-sim-entry.js", loader: "js" },
      bundle: true,
      platform: spec.platform,
      format: spec.format,
      target: spec.target,
      jsx: "automatic",
      conditions: ["convex", "module"],
      define: { "process.env.NODE_ENV": '"production"' },
      keepNames: true,
      treeShaking: true,
      sourcemap: "external",
      sourcesContent: false,
      charset: "utf8",
      outfile: spec.outfile,
      write: true,
      metafile: true,
      logLevel: "silent",
      plugins,
    });
    const inputs = Object.keys(result.metafile.inputs)
      .filter((p) => !p.includes(":"))
      .map((p) => path.resolve(p));
    return { ok: true, errors: [], warnings: format(esbuild, result.warnings, "warning"), inputs };
  } catch (e) {
    if (e && Array.isArray(e.errors)) {
      return { ok: false, errors: format(esbuild, e.errors, "error"), warnings: format(esbuild, e.warnings || [], "warning"), inputs: [] };
    }
    return { ok: false, errors: [String((e && e.stack) || e)], warnings: [], inputs: [] };
  }
}

async function main() {
  const request = JSON.parse(readStdin());
  const esbuildPath = require.resolve("esbuild", { paths: [request.convexPackage] });
  const esbuild = require(esbuildPath);
  const results = [];
  for (const spec of request.builds) results.push(await runBuild(esbuild, spec));
  process.stdout.write(JSON.stringify({ esbuildVersion: esbuild.version, results }));
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e));
  process.exit(1);
});
