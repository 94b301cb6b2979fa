import pytest

from convex_sim import define_schema, define_table, v
from convex_sim.database import Database

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
