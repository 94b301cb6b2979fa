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
