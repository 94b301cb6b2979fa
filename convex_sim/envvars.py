"""Deployment environment variables as users write them: ``KEY=VALUE`` items and env files.

A Convex deployment's variables are what app code reads as ``process.env``. The CLI
(``--env KEY=VALUE``, ``--env-file FILE``), the pytest plugin (the ``convex_sim_env`` ini
option, the ``convex_project(path, env={...})`` marker) and ``conformance.toml``
(``[app] env = {...}``) all pass them through these functions, so a bad entry reads the
same everywhere: where it came from, what was expected, what came.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import ConvexSimError

#: Convex's rule for variable names (convex-backend ``EnvVarName``): a letter first, then
#: letters, digits and underscores, at most 40 characters.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


class EnvError(ConvexSimError):
    """An environment variable given in a form convex-sim cannot take."""


def check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise EnvError(f"{where}: expected a variable name (a letter, then letters, digits or _; "
                       f"at most 40), got {name!r}.")
    return name


def env_from_mapping(values: Mapping[Any, Any], where: str) -> dict[str, str]:
    """A mapping of names to string values, checked (``where`` names its source)."""
    if not isinstance(values, Mapping):
        raise EnvError(f"{where}: expected a table of NAME = \"value\", got {values!r}.")
    env = {}
    for name, value in values.items():
        check_name(name, where)
        if not isinstance(value, str):
            raise EnvError(f"{where}.{name}: expected a string value, got {value!r}.")
        env[name] = value
    return env


def env_from_assignments(items: Iterable[str], where: str) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` as a dict; the value may contain ``=`` and may be empty."""
    env = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise EnvError(f"{where}: expected NAME=VALUE, got {item!r}.")
        env[check_name(name.strip(), where)] = value
    return env


def read_env_file(path: str | Path) -> dict[str, str]:
    """A dotenv file (``.env.local`` style): ``NAME=value`` lines, ``#`` comments, optional
    ``export``, values optionally in single or double quotes."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise EnvError(f"{path}: cannot read the env file: {exc.strerror or exc}.") from None
    env = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        if not sep:
            raise EnvError(f"{path}:{number}: expected NAME=value, got {raw!r}.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        env[check_name(name.strip(), f"{path}:{number}")] = value
    return env


def add_env_options(parser: argparse.ArgumentParser) -> None:
    """``--env NAME=VALUE`` (repeatable) and ``--env-file FILE``: the deployment's variables."""
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable the app reads as process.env (repeatable)")
    parser.add_argument("--env-file", default=None, metavar="FILE",
                        help="a dotenv file of environment variables (--env entries override it)")


def env_from_options(options: argparse.Namespace) -> dict[str, str]:
    """The variables ``--env-file`` and ``--env`` give (an EnvError for a bad entry)."""
    env = read_env_file(options.env_file) if options.env_file else {}
    return {**env, **env_from_assignments(options.env, "--env")}
