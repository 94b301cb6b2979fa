"""Objects named ``"package.module:attribute"`` on a command line or in a config file
(invariants, schemas, app packages): imported, or a plain sentence saying why not.

``import_roots`` puts the user's folders on ``sys.path`` while a command runs, as pytest's
rootdir does, so the installed ``convex-sim`` script finds ``checks:no_oversell`` beside
the ``conformance.toml`` that names it, exactly as ``python -m convex_sim`` would.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import ConvexSimError


class LoadError(ConvexSimError):
    """A ``module:attribute`` spec that names nothing importable."""


def load_object(spec: str, what: str = "object") -> Any:
    """The object ``spec`` (``"package.module:attribute"``) names. Any failure, including
    an exception raised while the module is imported, is a LoadError naming ``what`` it
    was to be (``"invariant"``) and the spec."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise LoadError(f"cannot load {what} {spec!r}: expected 'module:attribute'")
    try:
        return getattr(importlib.import_module(module), name)
    except AttributeError:
        raise LoadError(f"cannot load {what} {spec!r}: module {module!r} has no attribute {name!r}") from None
    except Exception as exc:   # the module's own code may raise anything while it is imported
        raise LoadError(f"cannot load {what} {spec!r}: {type(exc).__name__}: {exc}") from None


@contextlib.contextmanager
def import_roots(folders: Iterable[str | os.PathLike[str]]) -> Iterator[None]:
    """Import user modules from ``folders`` (the first searched first, ahead of installed
    packages) while the block runs; ``sys.path`` is as it was afterwards. A folder already
    on ``sys.path`` keeps its place."""
    added = [root for root in dict.fromkeys(str(Path(f).resolve()) for f in folders)
             if root not in sys.path]
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for root in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(root)
