"""The schema of ``conformance.toml`` and errors people can act on.

pydantic models, strict (no string is taken for a number) and closed (an unknown key
is an error): a misspelt key is named with its table, its line when it can be found,
and the nearest known key. ``check.load_config`` turns a file into these models.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator
from pydantic_core import PydanticCustomError

CALL_KINDS = ("query", "mutation", "action")
#: The key of a reference to a setup call's result, ``{ "$setup" = "name" }``: a ``$``-prefixed
#: field name is never a Convex value, so a reference cannot be mistaken for an argument.
SETUP_REFERENCE = "$setup"
#: The kinds of failure an exploration reports (``Counterexample.kind``), for ``expect_failure``;
#: ``"error <ExceptionType>"`` is the fifth.
FAILURE_KINDS = ("invariant", "serializability", "history", "subscription", "frontend")
_ERROR_KIND = re.compile(r"error [A-Za-z_][A-Za-z0-9_.]*")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class AppTable(_Table):
    """``[app]``: a Python app (``modules``, ``schema``) or a TypeScript ``project``."""

    modules: str | None = None
    project: str | None = None
    schema_spec: str | None = Field(None, alias="schema")
    env: dict[str, Any] = {}   # names and values checked by envvars, as for --env

    @model_validator(mode="after")
    def _one_app(self) -> AppTable:
        if self.modules is None and self.project is None:
            raise ValueError("needs modules = 'package' or project = 'folder'")
        return self


class OpTable(_Table):
    """One entry of a scenario's ``ops``: a call to run concurrently, ``times`` copies."""

    op: str
    args: dict[str, JsonValue] = {}
    times: int = Field(1, ge=1)
    identity: dict[str, JsonValue] | None = None


class FrontendTable(_Table):
    """One entry of a scenario's ``frontends``: a page of the app explored with the ops
    (``convex_sim.serve.Frontend``): its script in the project, a name, how many drops."""

    script: str = Field(min_length=1)
    name: str = Field("page", min_length=1)
    drops: int = Field(0, ge=0)


class SetupTable(_Table):
    """One entry of a scenario's ``setup``: ``{mutation = "module:fn", args = {...}}``."""

    query: str | None = None
    mutation: str | None = None
    action: str | None = None
    args: dict[str, JsonValue] = {}
    as_: str | None = Field(None, alias="as", min_length=1)   # names the result for `$setup`

    @model_validator(mode="after")
    def _one_kind(self) -> SetupTable:
        if sum(getattr(self, kind) is not None for kind in CALL_KINDS) != 1:
            raise ValueError(f"a setup call names exactly one of {', '.join(CALL_KINDS)}")
        return self

    @property
    def call(self) -> tuple[str, str]:
        """``(kind, function path)``."""
        return next((kind, getattr(self, kind)) for kind in CALL_KINDS if getattr(self, kind) is not None)


class ScenarioTable(_Table):
    """``[[scenario]]``: setup calls, then ops explored together."""

    name: str | None = None
    setup: list[SetupTable] = []
    ops: list[OpTable] = []
    frontends: list[FrontendTable] = []
    invariant: str | None = None
    budget: int | None = Field(None, ge=1)
    strategy: Literal["exhaustive", "random", "pct"] = "exhaustive"
    expect: Literal["ok", "fail"] = "ok"
    expect_failure: str | None = None   # with expect = "fail": the kind of the first failure
    serializable: bool = True           # false: no serial-order check (explore's check_serializable)
    env: dict[str, Any] = {}            # over [app] env; checked by envvars, as for --env

    @model_validator(mode="after")
    def _something_to_explore(self) -> ScenarioTable:
        if not self.ops and not self.frontends:
            raise problem(("ops",), "expected a non-empty array, got [] (a scenario needs ops, or frontends)")
        return self

    @model_validator(mode="after")
    def _expected_failure(self) -> ScenarioTable:
        kind = self.expect_failure
        if kind is not None and self.expect != "fail":
            raise problem(("expect_failure",), 'needs expect = "fail"')
        if kind is not None and kind not in FAILURE_KINDS and not _ERROR_KIND.fullmatch(kind):
            raise problem(("expect_failure",), "expected " + ", ".join(f'"{k}"' for k in FAILURE_KINDS)
                          + f' or "error <ExceptionType>", got {kind!r}')
        return self

    @model_validator(mode="after")
    def _references(self) -> ScenarioTable:
        """Every ``{ "$setup" = "name" }`` names the ``as`` of a setup call before it."""
        names: dict[str, int] = {}   # each `as`, by the index of its setup call
        for index, entry in enumerate(self.setup):
            if entry.as_ in names:
                raise problem(("setup", index, "as"), f"`{entry.as_}` names setup[{names[entry.as_]}] already")
            if entry.as_ is not None:
                names[entry.as_] = index
        calls = [(("setup", i, "args"), entry.args, i) for i, entry in enumerate(self.setup)]
        calls += [(("ops", i, "args"), op.args, len(self.setup)) for i, op in enumerate(self.ops)]
        for at, args, position in calls:
            for where, name in references(args, at):
                _check_reference(name, names, position, where)
        return self


def problem(at: tuple[Any, ...], message: str) -> PydanticCustomError:
    """A schema error at the key ``at`` below the table being validated."""
    return PydanticCustomError("config_problem", "{message}", {"message": message, "at": at})


def references(value: Any, at: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """``(key path, name)`` of every ``{ "$setup" = "name" }`` in ``value``; a PydanticCustomError
    for a ``$``-prefixed key that is not a well-formed reference."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from references(item, (*at, i))
    elif isinstance(value, dict):
        marks = [key for key in value if key.startswith("$")]
        if not marks:
            for key, item in value.items():
                yield from references(item, (*at, key))
            return
        if SETUP_REFERENCE not in marks:
            nearest = difflib.get_close_matches(marks[0], [SETUP_REFERENCE], n=1, cutoff=0.6)
            hint = f"did you mean `{SETUP_REFERENCE}`?" if nearest else \
                f"a setup result is referred to as {{ \"{SETUP_REFERENCE}\" = \"name\" }}"
            raise problem(at, f"unknown reference `{marks[0]}`; {hint}")
        if len(value) != 1:
            raise problem(at, f"a reference is a table with the one key `{SETUP_REFERENCE}`, got keys "
                              + ", ".join(f"`{key}`" for key in value))
        name = value[SETUP_REFERENCE]
        if not isinstance(name, str):
            raise problem(at, f"expected the name of a setup call (its `as`), got {_show(name)}")
        yield at, name


def is_reference(value: Any) -> bool:
    """Whether ``value`` is a (checked) ``{ "$setup" = "name" }`` reference."""
    return type(value) is dict and len(value) == 1 and SETUP_REFERENCE in value


def _check_reference(name: str, names: dict[str, int], position: int, at: tuple[Any, ...]) -> None:
    """``name`` must be the ``as`` of a setup call before the one at ``position`` (every op
    comes after the setup calls)."""
    source = names.get(name)
    if source is None:
        listed = ", ".join(f"`{n}`" for n in names) or "none"
        raise problem(at, f'{{ "{SETUP_REFERENCE}" = "{name}" }}: no setup call is named `{name}` '
                          f'(named: {listed}); name one with as = "{name}"')
    if source >= position:
        raise problem(at, f"`{name}` is this setup call's own result" if source == position else
                      f"`{name}` is the result of setup[{source}], which runs after it")


class ConformanceFile(_Table):
    """The whole file: ``[app]`` and its ``[[scenario]]`` tables."""

    app: AppTable
    scenario: list[ScenarioTable] = []


#: The model of each table, by its path with array indexes left out.
_TABLES: dict[tuple[str, ...], type[_Table]] = {
    (): ConformanceFile, ("app",): AppTable, ("scenario",): ScenarioTable,
    ("scenario", "ops"): OpTable, ("scenario", "setup"): SetupTable,
}


def config_keys() -> dict[str, list[str]]:
    """Every key each table of the file accepts (``"[[scenario]] ops"``: an op's keys)."""
    return {" ".join(path) or "top level": [f.alias or name for name, f in model.model_fields.items()]
            for path, model in _TABLES.items()}


class SchemaProblem(ValueError):
    """The first problem the schema found: a sentence, and its ``line`` when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def parse(data: dict[str, Any], text: str) -> ConformanceFile:
    """The file's models, from its TOML ``data`` (``text`` is searched for lines); a
    SchemaProblem for the first thing the schema refuses."""
    try:
        return ConformanceFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = _without_tags(error["loc"]) + tuple((error.get("ctx") or {}).get("at", ()))
        raise SchemaProblem(describe(error, loc), line_of(text, loc)) from None


# -- messages ------------------------------------------------------------------------------

_EXPECTED = {"int_type": "an integer", "string_type": "a string", "bool_type": "a boolean",
             "dict_type": "a table", "model_type": "a table", "model_attributes_type": "a table",
             "list_type": "an array", "invalid-json-value": "a Convex value (a string, number, "
                                                            "boolean, array or table)"}


def _without_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without the type tags pydantic adds inside a JsonValue (``'list'``, ``'dict'``)."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        inside_value = any(p in ("args", "identity", "env") for p in loc[:i])
        following = loc[i + 1] if i + 1 < len(loc) else None
        if inside_value and ((part == "list" and type(following) is int)
                             or (part == "dict" and type(following) is str)):
            continue
        out.append(part)
    return tuple(out)


def table_name(loc: tuple[Any, ...], table: bool = False) -> str:
    """``('scenario', 0, 'ops', 1, 'args', 'x')`` as ``[[scenario]] 1 ops[1].args.x``;
    ``table``: ``loc`` is a table (``('app',)`` is ``[app]``, not the key ``app``)."""
    if not loc:
        return "the top level"
    head, rest = loc[0], loc[1:]
    if head == "app" and (rest or table):
        name = "[app]"
    elif head == "scenario" and rest and type(rest[0]) is int:
        name, rest = f"[[scenario]] {rest[0] + 1}", rest[1:]
    else:
        return _dotted(loc)
    return f"{name} {_dotted(rest)}" if rest else name


def _dotted(parts: tuple[Any, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if type(part) is int else (f".{part}" if text else str(part))
    return text


def describe(error: Any, loc: tuple[Any, ...]) -> str:
    """One pydantic error as a sentence naming the key, what was expected and what came."""
    kind, got = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return unknown_key(loc)
    if kind == "missing":
        table = loc[:-1]
        return f"missing key `{loc[-1]}` " + (f"in {table_name(table, table=True)}" if table else "at the top level")
    where = table_name(loc)
    if kind in _EXPECTED:
        return f"{where}: expected {_EXPECTED[kind]}, got {_show(got)}"
    if kind == "greater_than_equal":
        return f"{where}: expected an integer of at least {error['ctx']['ge']}, got {_show(got)}"
    if kind == "literal_error":
        return f"{where}: expected {error['ctx']['expected']}, got {_show(got)}"
    if kind == "too_short":
        return f"{where}: expected a non-empty array, got {_show(got)}"
    if kind == "config_problem":
        return f"{where}: {error['msg']}"
    if kind == "value_error":
        return f"{where}: {error['msg'].removeprefix('Value error, ')}"
    return f"{where}: {error['msg']}, got {_show(got)}"


def unknown_key(loc: tuple[Any, ...]) -> str:
    """``unknown key `x` in <table>; did you mean `y`?`` (or the known keys)."""
    key, table = str(loc[-1]), loc[:-1]
    model = _TABLES.get(tuple(p for p in table if type(p) is str), ConformanceFile)
    known = [f.alias or name for name, f in model.model_fields.items()]
    where = "at the top level" if not table else f"in {table_name(table, table=True)}"
    nearest = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean `{nearest[0]}`?" if nearest else f"(known: {', '.join(known)})"
    return f"unknown key `{key}` {where}; {hint}" if nearest else f"unknown key `{key}` {where} {hint}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- finding a key's line --------------------------------------------------------------------------

_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")


def line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line where the key ``loc`` ends in is written, found by a plain scan of
    the TOML text (headers, then ``key =``); None when the scan cannot tell."""
    lines = text.splitlines()
    sections: list[tuple[str, int]] = [("", 0)]   # (table name, first line index)
    for i, line in enumerate(lines):
        match = _HEADER.match(line)
        if match and "=" not in line.split("#", 1)[0]:
            sections.append((match.group(2).strip(), i))
    keys = [p for p in loc if type(p) is str]
    if not keys:
        return None
    if loc[0] in ("app", "scenario") and len(loc) > 1:
        nth = loc[1] if loc[0] == "scenario" and type(loc[1]) is int else 0
        starts = [start for name, start in sections if name == loc[0]]
        if nth >= len(starts):
            return None
        start = starts[nth]
        end = next((s for _, s in sections if s > start), len(lines))
        keys = keys[1:]
    else:
        start, end = 0, next((s for _, s in sections[1:]), len(lines))
        header = next((s for name, s in sections[1:] if name == keys[0]), None)
        if header is not None and not _find(lines, keys[0], start, end):
            return header + 1
    position = start
    for key in keys:
        found = _find(lines, key, position, end)
        if found is None:
            return position + 1 if position > start else (start + 1 if start else None)
        position = found
    return position + 1


def _find(lines: list[str], key: str, start: int, end: int) -> int | None:
    pattern = re.compile(rf"(?:^|[\s{{,])[\"']?{re.escape(key)}[\"']?\s*=")
    return next((i for i in range(start, end) if pattern.search(lines[i].split("#", 1)[0])), None)
