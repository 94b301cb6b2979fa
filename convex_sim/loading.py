"""Objects named ``"package.module:attribute"`` on a command line or in a config file
(invariants, schemas): imported, or a plain sentence saying why not."""

from __future__ import annotations

import importlib
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
