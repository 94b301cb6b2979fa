"""The web APIs taken from npm: one script the engine evaluates before ``prelude.js``.

``polyfills/package.json`` and its lock file pin the packages (streams, Event and
EventTarget, URL, structuredClone) and the esbuild that bundles them. ``polyfills/entry.js``
puts the small ones on ``globalThis``; each of the large ones (``streams.js``, ``url.js``) is
kept as source text and parsed on the first read of one of its globals, since parsing is
nearly all that a polyfill costs a context. On first use the packages are installed with
``npm ci`` and bundled once into one script, cached by the hash of the files under
``$CONVEX_SIM_CACHE`` (default ``~/.cache/convex-sim``); later processes read that file.
docs/typescript.md ("Web APIs") has the measured choice of each package.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .bundler import BundleError, node_tools_missing

SOURCE = Path(__file__).with_name("polyfills")
#: Modules parsed on first use of one of their exports (``export { A, B } from "..."``).
LAZY = ("streams.js", "url.js")
FILES = ("package.json", "package-lock.json", "entry.js", *LAZY)
ESBUILD_FLAGS = ("--bundle", "--format=iife", "--platform=neutral", "--target=es2023",
                 "--main-fields=module,main", "--minify", "--legal-comments=none",
                 "--log-level=error", "--charset=utf8")

_SCRIPT: dict[str, str] = {}


def cache_root() -> Path:
    """Where convex-sim keeps what it builds outside a project (``$CONVEX_SIM_CACHE``)."""
    return Path(os.environ.get("CONVEX_SIM_CACHE") or Path.home() / ".cache" / "convex-sim")


@functools.cache
def digest() -> str:
    """The hash of the pinned inputs: a changed version or entry builds a new script (they
    ship with convex-sim, so once per process)."""
    h = hashlib.sha256(" ".join(ESBUILD_FLAGS).encode())
    for name in FILES:
        h.update(name.encode() + b"\0" + (SOURCE / name).read_bytes() + b"\0")
    return h.hexdigest()[:24]


def polyfill_script() -> str:
    """The bundled polyfills (built on first use, then read from the cache)."""
    key = digest()
    script = _SCRIPT.get(key)
    if script is None:
        out = cache_root() / "polyfills" / f"polyfills-{key}.js"
        if not out.exists():
            build(out)
        script = _SCRIPT[key] = out.read_text("utf-8")
    return script


def build(out: Path) -> None:
    """``npm ci`` the pinned packages in a scratch folder and bundle ``entry.js`` into ``out``
    (written atomically: a concurrent process never reads half a script)."""
    missing = node_tools_missing()
    if missing:
        raise BundleError(f"Building convex-sim's web API polyfills needs npm: {missing}")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=out.parent))
    try:
        for name in FILES:
            shutil.copyfile(SOURCE / name, work / name)
        _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], work)
        parts = [_bundle(work, "entry.js")]
        for name in LAZY:
            source = _bundle(work, name, "--global-name=__csApis")
            parts.append(f"__csLazyApis({json.dumps(exports_of(SOURCE / name))}, {json.dumps(source)});")
        parts.append("delete globalThis.__csLazyApis;")
        tmp = work / out.name
        tmp.write_text("\n".join(parts) + "\n", "utf-8")
        os.replace(tmp, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def exports_of(module: Path) -> list[str]:
    """The names a re-exporting module exports (``export { A, default as B } from ...``)."""
    names = []
    for group in re.findall(r"export\s*\{([^}]*)\}", module.read_text("utf-8")):
        names += [item.split()[-1] for item in group.split(",") if item.strip()]
    return names


def _bundle(work: Path, entry: str, *flags: str) -> str:
    out = work / f"out-{entry}"
    _run([str(work / "node_modules" / ".bin" / "esbuild"), entry, *ESBUILD_FLAGS, *flags,
          f"--outfile={out}"], work)
    return out.read_text("utf-8")


def _run(command: list[str], cwd: Path) -> None:
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BundleError(f"Building convex-sim's web API polyfills: `{' '.join(command)}` "
                          f"failed in {cwd}:\n{proc.stderr.strip()}")
