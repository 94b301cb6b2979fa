import functools
import json
import textwrap
import threading
from pathlib import Path

import pytest

from convex_sim import ConvexSim, define_schema, define_table, v
from convex_sim.database import Database
from scenarios.bank.schema import schema as bank_schema

BANK = define_schema({
    "accounts": define_table({"owner": v.string(), "balance": v.int64()}).index("by_owner", ["owner"]),
    "messages": define_table({"channel": v.string(), "body": v.string(), "n": v.float64()})
    .index("by_channel", ["channel"]).index("by_channel_n", ["channel", "n"]),
})


@pytest.fixture
def db():
    return Database(BANK, seed=0)


def seed_accounts(db, **balances):
    txn = db.begin("seed")
    ids = {owner: txn.insert("accounts", {"owner": owner, "balance": amount})
           for owner, amount in balances.items()}
    txn.commit()
    return ids


@pytest.fixture
def bank():
    """The bank scenario with ada (100) and bob (0)."""
    sim = ConvexSim(bank_schema, modules="scenarios.bank", seed=0)
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    return sim


TS_BANK = Path(__file__).resolve().parent.parent / "scenarios" / "ts_bank"


@pytest.fixture(scope="session")
def ts_bank_project():
    """The TypeScript bank scenario, its node_modules installed from its lock file (skipped,
    saying what to install, where Node.js and npm are missing)."""
    return prepared_project(TS_BANK)


def prepared_project(project: Path) -> Path:
    """``project`` with its node_modules installed from its lock file; the test is skipped,
    saying what to install, where Node.js and npm are missing."""
    from convex_sim.js import node_tools_missing
    from convex_sim.js.bundler import install_node_modules

    missing = node_tools_missing()
    if missing and not (project / "node_modules" / ".bin" / "esbuild").exists():
        pytest.skip(missing)
    install_node_modules(project)
    return project


@pytest.fixture
def ts(ts_bank_project):
    """A fresh simulator of the TypeScript bank scenario."""
    return ConvexSim.from_project(ts_bank_project, seed=0)


def _within(seconds, call):
    """``call()``'s result (or its exception), or a test failure if it has not returned in
    ``seconds``: a hang fails the test instead of blocking the suite."""
    box = {}

    def run():
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"did not finish within {seconds} s (hung)")
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture
def within():
    """``within(seconds, call)``: run ``call`` under a timeout (see ``_within``)."""
    return _within


@pytest.fixture
def make_project(tmp_path, ts_bank_project):
    """``make_project(files, packages=None)``: a TypeScript project in ``tmp_path`` made of
    ``files`` (path → source), its node_modules linking the bank scenario's packages."""
    return functools.partial(_make_project, tmp_path, ts_bank_project)


def _make_project(tmp_path, bank, files, *, packages=None):
    """A project with ``files`` (path → source) whose node_modules links the bank's packages,
    plus ``packages`` (name → {file: source}) of its own."""
    root = tmp_path / "app"
    modules = root / "node_modules"
    modules.mkdir(parents=True)
    for entry in (bank / "node_modules").iterdir():
        if entry.name != ".cache":
            (modules / entry.name).symlink_to(entry)
    for name, package in (packages or {}).items():
        for path, text in package.items():
            (modules / name / path).parent.mkdir(parents=True, exist_ok=True)
            (modules / name / path).write_text(text)
    (root / "package.json").write_text(json.dumps({"name": "app", "type": "module"}))
    generated = bank / "convex" / "_generated"
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
        if target.name.endswith(".ts") and not (target.parent / "_generated").exists() \
                and "_generated" not in target.parts and target.parent.name in ("convex", "functions"):
            (target.parent / "_generated").symlink_to(generated)
    return root


@pytest.fixture
def mug_shop():
    """``mug_shop(stock)``: a fresh simulator of the TypeScript inventory scenario selling
    ``stock`` mugs (sku ``"mug"``)."""
    from scenarios.ts_inventory import PROJECT

    project = prepared_project(PROJECT)

    def make(stock: float = 1) -> ConvexSim:
        sim = ConvexSim.from_project(project, seed=0)
        sim.mutation("inventory:addProduct", {"sku": "mug", "name": "Mug", "stock": stock})
        return sim

    return make
