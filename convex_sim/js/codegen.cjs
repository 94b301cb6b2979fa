// Computes a Convex project's `_generated/` files with the code generator of the project's own
// `convex` package, without a deployment, and reports them as JSON (it writes nothing else).
//
// Usage: node codegen.cjs PROJECT OUT.json   (run with PROJECT as the working directory)
//
// OUT.json: {"version", "functions", "files": {absolute path: contents}, "remove": [paths],
// "notes": [...]}. The package's own templates (dist/cjs/cli/codegen_templates), its module
// list (`entryPoints` of dist/cjs/bundler) and its component discovery and definition bundling
// (dist/cjs/cli/lib/components/definition/bundle.js) are used unchanged; every file is formatted
// with the project's prettier as the CLI does. The npm package ships its CLI as one bundle, so
// the CLI's logging and telemetry dependencies are absent: they are replaced by inert stand-ins.
"use strict";

const fs = require("fs");
const Module = require("module");
const path = require("path");

const project = path.resolve(process.argv[2] || ".");
const out = path.resolve(process.argv[3] || "codegen.json");
const convexRoot = path.join(project, "node_modules", "convex");
const cjsRoot = fs.realpathSync(path.join(convexRoot, "dist", "cjs"));
const has = (rel) => fs.existsSync(path.join(cjsRoot, rel));
const notes = [];

class CodegenError extends Error {}

// --- inert stand-ins for the CLI's absent dependencies (chalk, ora, @sentry/node, ...) ------

// A stand-in answers every property and call with another stand-in, and reads as the text it
// was called with (chalk.yellow("x") is "x"), so messages keep their words.
function standIn(text) {
  return new Proxy(function standIn() {}, {
    get: (_target, prop) => (prop === "__esModule" || prop === "then" ? undefined
      : prop === Symbol.toPrimitive || prop === "toString" ? () => text : standIn(text)),
    apply: (_target, _this, args) => standIn(typeof args[0] === "string" ? args[0] : ""),
    construct: () => standIn(""),
  });
}
const inert = standIn("");
const load = Module._load;
Module._load = function loadOrStandIn(request, parent, isMain) {
  try {
    return load.call(this, request, parent, isMain);
  } catch (err) {
    const bare = !request.startsWith(".") && !path.isAbsolute(request);
    const fromConvex = parent && parent.filename && parent.filename.startsWith(cjsRoot);
    if (err.code === "MODULE_NOT_FOUND" && bare && fromConvex && request !== "prettier"
        && request !== "esbuild") {
      return inert;
    }
    throw err;
  }
};
const cjs = (rel) => require(path.join(cjsRoot, rel));

// --- convex.json, with the defaults of the CLI --------------------------------------------

function projectConfig() {
  const file = path.join(project, "convex.json");
  const config = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
  let functions = config.functions;
  if (functions === undefined) {
    const pkg = path.join(project, "package.json");
    const deps = fs.existsSync(pkg) ? JSON.parse(fs.readFileSync(pkg, "utf8")) : {};
    const all = { ...deps.dependencies, ...deps.devDependencies };
    functions = "react-scripts" in all ? "src/convex/" : "convex/";
  }
  const codegen = config.codegen || {};
  if (config.generateCommonJSApi && codegen.fileType === "ts") {
    throw new CodegenError("convex.json: `generateCommonJSApi: true` needs "
      + '`codegen.fileType: "js/dts"`');
  }
  return {
    functionsDir: path.join(project, functions),
    useTypeScript: codegen.fileType === "ts",
    commonJS: !!config.generateCommonJSApi,
    staticApi: !!codegen.staticApi,
    staticDataModel: !!codegen.staticDataModel,
    componentApiImports: codegen.legacyComponentApi !== true,
  };
}

// --- context for the package's functions: the real filesystem, errors as exceptions ---------

function makeContext() {
  return {
    fs: cjs("bundler/fs.js").nodeFs,
    deprecationMessagePrinted: false,
    // crash(exitCode, errorType, err) in old versions, crash({printedMessage, ...}) in newer.
    async crash(args, _errorType, err) {
      const message = typeof args === "object" && args !== null ? args.printedMessage
        : (err && err.message) || err;
      throw new CodegenError(String(message || "the Convex code generator stopped"));
    },
    registerCleanup: () => "cleanup",
    removeCleanup: () => null,
  };
}

// --- output ---------------------------------------------------------------------------------

const files = new Map();      // absolute path -> contents, in the order they are generated
const written = new Map();    // _generated folder -> names the CLI keeps there

let prettierModule;
function prettier() {
  if (prettierModule === undefined) {
    try {
      prettierModule = require(require.resolve("prettier", { paths: [cjsRoot] }));
    } catch {
      throw new CodegenError(`this convex package (${version()}) does not depend on prettier, `
        + "which its code generator formats with (older versions carry their own copy inside "
        + "the CLI bundle): upgrade convex, or `npm install --save-dev prettier`, whose "
        + "formatting may differ slightly");
    }
  }
  return prettierModule;
}

function version() {
  return JSON.parse(fs.readFileSync(path.join(convexRoot, "package.json"), "utf8")).version;
}

async function emit(dir, name, contents, parser = "typescript", { ifMissing = false } = {}) {
  const target = path.join(dir, "_generated", name);
  if (!written.has(dir)) written.set(dir, new Set());
  written.get(dir).add(name);
  if (ifMissing && fs.existsSync(target)) return;
  files.set(target, await prettier().format(contents, { parser, pluginSearchDirs: false }));
}

async function modulePaths(ctx, dir) {
  const { entryPoints } = cjs("bundler/index.js");
  const { compareModulePaths } = cjs("cli/codegen_templates/common.js");
  const found = await entryPoints(ctx, dir);
  return found.map((p) => path.relative(dir, p)).sort(compareModulePaths || undefined);
}

function hasSchema(dir) {
  return ["schema.ts", "schema.js"].some((f) => fs.existsSync(path.join(dir, f)));
}

async function dataModel(dir, ts, ifMissing) {
  const t = cjs("cli/codegen_templates/dataModel.js");
  const schema = hasSchema(dir);
  if (typeof t.dynamicDataModelDTS !== "function") {     // before 1.2x: constants, .d.ts only
    await emit(dir, "dataModel.d.ts", (schema ? t.dataModel : t.dataModelWithoutSchema).DTS);
    return;
  }
  const text = ts ? (schema ? t.dynamicDataModelTS() : t.noSchemaDataModelTS())
    : (schema ? t.dynamicDataModelDTS() : t.noSchemaDataModelDTS());
  await emit(dir, ts ? "dataModel.ts" : "dataModel.d.ts", text, "typescript", { ifMissing });
}

async function serverFiles(dir, ts, envVars, ifMissing) {
  const { serverCodegen } = cjs("cli/codegen_templates/server.js");
  const server = serverCodegen({ useTypeScript: ts, envVars });
  if (ts) {
    await emit(dir, "server.ts", server.TS, "typescript", { ifMissing });
  } else {
    await emit(dir, "server.js", server.JS, "typescript", { ifMissing });
    await emit(dir, "server.d.ts", server.DTS, "typescript", { ifMissing });
  }
}

/** `npx convex codegen` of versions that generate locally: the api from the module list. */
async function moduleApiCodegen(ctx, config) {
  const dir = config.functionsDir;
  const { apiCodegen } = cjs("cli/codegen_templates/api.js");
  await dataModel(dir, config.useTypeScript, false);
  await serverFiles(dir, config.useTypeScript, undefined, false);
  const modules = await modulePaths(ctx, dir);
  const api = apiCodegen(modules, { useTypeScript: config.useTypeScript });
  if (config.useTypeScript) {
    await emit(dir, "api.ts", api.TS);
    return;
  }
  await emit(dir, "api.js", api.JS);
  await emit(dir, "api.d.ts", api.DTS);
  if (config.commonJS) {
    const cjsApi = cjs("cli/codegen_templates/api_cjs.js").apiCjsCodegen(modules);
    await emit(dir, "api_cjs.cjs", cjsApi.JS);
    await emit(dir, "api_cjs.d.cts", cjsApi.DTS);
  }
}

/** The CLI's first pass for one component folder (doInitialComponentCodegen): written before
 * the push, and all that exists of `_generated/` until the deployment's analysis is back. */
async function initialComponentCodegen(directory, config) {
  const t = cjs("cli/codegen_templates/component_api.js");
  const dir = directory.path;
  const ts = !directory.isRoot || config.useTypeScript;
  await dataModel(dir, ts, true);
  if (directory.isRoot) {
    await serverFiles(dir, ts, undefined, true);
  } else {
    const server = cjs("cli/codegen_templates/component_server.js");
    await emit(dir, "server.ts", server.componentServerTS(false, undefined), "typescript",
               { ifMissing: true });
  }
  if (ts) {
    await emit(dir, "api.ts", t.componentApiStubTS(), "typescript", { ifMissing: true });
  } else {
    await emit(dir, "api.js", t.componentApiJs());
    await emit(dir, "api.d.ts", t.componentApiStubDTS(), "typescript", { ifMissing: true });
    if (config.commonJS && directory.isRoot) {
      await emit(dir, "api_cjs.cjs", t.rootComponentApiCJS());
      await emit(dir, "api_cjs.d.cts", t.componentApiStubDTS(), "typescript", { ifMissing: true });
    }
  }
  if (!directory.isRoot && fs.existsSync(path.join(dir, "_generated", "component.ts"))) {
    written.get(dir).add("component.ts");
  }
}

// convex.config.ts evaluated as the deployment evaluates it for its analysis: each bundled
// definition, with the imports of child definitions answered by their path and default name.
const DEPS = /"\.\/_componentDeps\/([A-Za-z0-9_-]+)"/g;
const dataUrl = (js) => "data:text/javascript;base64," + Buffer.from(js).toString("base64");

async function evaluateDefinitions(appSource, componentSpecs) {
  const sources = new Map(componentSpecs.map((s) => [s.definitionPath, s.definition.source]));
  const done = new Map();
  async function evaluate(source) {
    let rewritten = source;
    for (const dep of new Set([...source.matchAll(DEPS)].map((m) => m[1]))) {
      const definitionPath = Buffer.from(dep, "base64url").toString();
      if (!sources.has(definitionPath)) {
        throw new CodegenError(`no bundled component definition at ${definitionPath}`);
      }
      if (!done.has(definitionPath)) done.set(definitionPath, evaluate(sources.get(definitionPath)));
      const child = await done.get(definitionPath);
      const stub = `export default ${JSON.stringify({
        componentDefinitionPath: definitionPath, defaultName: child.name })};`;
      rewritten = rewritten.split(`"./_componentDeps/${dep}"`).join(JSON.stringify(dataUrl(stub)));
    }
    return (await import(dataUrl(rewritten))).default.export();
  }
  return await evaluate(appSource);
}

/** The CLI's second pass for the app (doFinalComponentCodegen of the root), from the app's
 * definition; false when it needs what only a deployment knows (functions' validators). */
async function finalRootCodegen(ctx, root, components, dependencyGraph, config) {
  const why = [];
  if (config.staticApi) why.push("codegen.staticApi");
  if (config.staticDataModel) why.push("codegen.staticDataModel");
  const bundle = cjs("cli/lib/components/definition/bundle.js");
  const specs = await bundle.bundleDefinitions(ctx, project, dependencyGraph, root,
                                               [...components.values()], false, false);
  const app = await evaluateDefinitions(specs.appDefinitionSpecWithoutImpls.definition.source,
                                        specs.componentDefinitionSpecsWithoutImpls);
  if (app.childComponents.length > 0 && !config.componentApiImports) {
    why.push("codegen.legacyComponentApi");
  }
  if (why.length > 0) {
    notes.push(`${why.join(", ")}: needs a deployment's analysis; kept the CLI's first pass `
      + "(`api`, `internal` and `components` untyped)");
    return;
  }
  const structure = cjs("cli/lib/components/definition/directoryStructure.js");
  const t = cjs("cli/codegen_templates/component_api.js");
  const definitionPath = structure.toComponentDefinitionPath(root, root);
  const startPush = { analysis: { [definitionPath]: { definition: app, functions: {} } } };
  const dir = root.path;
  const ts = config.useTypeScript;
  await dataModel(dir, ts, false);
  await serverFiles(dir, ts, app.envVars && app.envVars.length > 0 ? app.envVars : [], false);
  const options = { staticApi: false, useComponentApiImports: config.componentApiImports };
  if (ts) {
    await emit(dir, "api.ts",
               await t.componentApiTSWithTypes(ctx, startPush, root, root, components, options));
    return;
  }
  const dts = await t.componentApiDTS(ctx, startPush, root, root, components, options);
  await emit(dir, "api.d.ts", dts);
  if (config.commonJS) await emit(dir, "api_cjs.d.cts", dts);
}

async function componentCodegen(ctx, config) {
  const structure = cjs("cli/lib/components/definition/directoryStructure.js");
  const bundle = cjs("cli/lib/components/definition/bundle.js");
  const found = structure.isComponentDirectory(ctx, config.functionsDir, true);
  if (found.kind === "err") {
    throw new CodegenError(`Invalid component root directory (${found.why}): `
      + config.functionsDir);
  }
  const root = found.component;
  const { components, dependencyGraph } = await bundle.componentGraph(ctx, project, root, false,
                                                                       false);
  const local = [...components.values()].filter(
    (d) => !d.isRoot && !(d.definitionPath.endsWith(".js")));
  for (const directory of [root, ...local]) await initialComponentCodegen(directory, config);
  if (local.length > 0) {
    notes.push("local components: their typed `api` and `component.ts` need a deployment's "
      + "analysis of their functions; kept the CLI's first pass");
  }
  await finalRootCodegen(ctx, root, components, dependencyGraph, config);
}

/** Whether this version's `npx convex codegen` generates a project without convex.config
 * locally (it did until every codegen went through a deployment's analysis). */
function generatesLocallyWithoutConfig() {
  if (!has("cli/codegen_templates/component_api.js")) return true;
  const source = fs.readFileSync(path.join(cjsRoot, "cli/lib/components.js"), "utf8");
  return /componentRootPath/.test(source);
}

/** Stale entries of each `_generated/` the CLI removes (it keeps `ai/`). */
function staleEntries() {
  const remove = [];
  for (const [dir, names] of written) {
    const generated = path.join(dir, "_generated");
    if (!fs.existsSync(generated)) continue;
    for (const name of fs.readdirSync(generated).sort()) {
      if (!names.has(name) && name !== "ai") remove.push(path.join(generated, name));
    }
  }
  return remove;
}

async function main() {
  process.chdir(project);
  const config = projectConfig();
  if (!fs.existsSync(config.functionsDir)) {
    throw new CodegenError(`no functions folder ${config.functionsDir}`);
  }
  const ctx = makeContext();
  const hasConfig = ["convex.config.ts", "convex.config.js"].some(
    (f) => fs.existsSync(path.join(config.functionsDir, f)));
  if (!hasConfig && generatesLocallyWithoutConfig()) {
    await moduleApiCodegen(ctx, config);
  } else {
    await componentCodegen(ctx, config);
  }
  fs.writeFileSync(out, JSON.stringify({
    version: version(), functions: config.functionsDir, files: Object.fromEntries(files),
    remove: staleEntries(), notes }));
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof CodegenError ? err.message : err.stack || err}\n`);
    process.exit(1);
  });
