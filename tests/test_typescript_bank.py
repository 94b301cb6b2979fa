"""The TypeScript bank scenario: each function, and the explorer on TypeScript functions."""

import pytest

from convex_sim import ConvexError, ConvexSim, Op
from scenarios.ts_bank import no_overdraft, open_accounts


@pytest.fixture
def bank(ts):
    open_accounts(ts, ada=100, bob=0)
    return ts


def test_open_returns_an_id_of_accounts(ts):
    account = ts.mutation("bank:open", {"owner": "ada", "amount": 5})
    assert ts.db.table_of_id(account) == "accounts"


def test_balance_of_a_missing_account_is_zero(ts):
    assert ts.query("bank:balance", {"owner": "nobody"}) == 0


def test_deposit(bank):
    bank.mutation("bank:deposit", {"owner": "bob", "amount": 2.5})
    assert bank.query("bank:balance", {"owner": "bob"}) == 2.5


def test_deposit_to_a_missing_account(bank):
    with pytest.raises(ConvexError) as caught:
        bank.mutation("bank:deposit", {"owner": "eve", "amount": 1})
    assert caught.value.data == {"code": "NO_ACCOUNT", "owner": "eve"}


def test_transfer_moves_money_and_keeps_the_total(bank):
    bank.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 30})
    assert bank.query("bank:balance", {"owner": "ada"}) == 70
    assert bank.query("bank:balance", {"owner": "bob"}) == 30
    assert bank.query("bank:total", {}) == 100


def test_transfer_refuses_an_overdraft_and_writes_nothing(bank):
    before = bank.db.latest_ts
    with pytest.raises(ConvexError) as caught:
        bank.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 101})
    assert caught.value.data == {"code": "INSUFFICIENT_FUNDS", "balance": 100.0}
    assert bank.db.latest_ts == before


def test_debit_and_credit_are_internal(bank):
    bank.mutation("bank:debit", {"owner": "ada", "amount": 1})      # the test handle may call them
    bank.mutation("bank:credit", {"owner": "bob", "amount": 1})
    assert bank.query("bank:total", {}) == 100
    with pytest.raises(Exception, match="internal"):
        bank.client().mutation("bank:debit", {"owner": "ada", "amount": 1})


def test_transfer_via_action_and_atomic(bank):
    bank.action("bank:transferViaAction", {"src": "ada", "dst": "bob", "amount": 10})
    bank.action("bank:transferAtomic", {"src": "ada", "dst": "bob", "amount": 10})
    assert bank.query("bank:balance", {"owner": "bob"}) == 20


def test_arguments_are_validated_against_the_ts_validators(bank):
    with pytest.raises(Exception, match=r"bank:transfer.*Path: \.amount.*v\.float64\(\)"):
        bank.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": "ten"})
    with pytest.raises(Exception, match="bank:balance"):
        bank.query("bank:balance", {"owner": "ada", "extra": 1})


def test_schema_comes_from_schema_ts(ts):
    accounts = ts.schema.table("accounts")
    assert "by_owner" in accounts.all_indexes()
    with pytest.raises(Exception, match="accounts"):
        ts.run(lambda ctx: ctx.db.insert("accounts", {"owner": "x"}))   # balance missing


def test_explorer_finds_the_overdraft_of_transfer_via_action(bank):
    transfer = {"src": "ada", "dst": "bob", "amount": 60}
    result = bank.explore([Op("bank:transferViaAction", transfer)] * 2, invariant=no_overdraft)
    assert not result.ok
    failure = next(f for f in result.failures if f.kind == "invariant")
    text = str(failure)
    assert "bank:transferViaAction" in text and "bank:balance" in text and "bank:debit" in text
    assert "ada overdrawn: -20" in text
    assert len(failure.schedule) <= 6          # shrunk: both balance reads, then both debits
    assert bank.query("bank:balance", {"owner": "ada"}) == 100   # the sim's own state is untouched
    assert str(failure.replay()) == text


def test_explorer_finds_the_correct_transfer_clean(bank):
    transfer = {"src": "ada", "dst": "bob", "amount": 60}
    result = bank.explore([Op("bank:transfer", transfer)] * 3, invariant=no_overdraft)
    assert result.ok and result.schedules_run > 1
    atomic = bank.explore([Op("bank:transferAtomic", transfer)] * 2, invariant=no_overdraft)
    assert atomic.ok


def test_python_code_reads_and_writes_the_same_tables(bank):
    bank.run(lambda ctx: ctx.db.insert("accounts", {"owner": "cy", "balance": 3.0}))
    assert bank.query("bank:balance", {"owner": "cy"}) == 3.0


def test_instances_share_the_bundle_but_never_the_database(ts_bank_project):
    one, two = ConvexSim.from_project(ts_bank_project), ConvexSim.from_project(ts_bank_project)
    assert one.project is two.project
    open_accounts(one, ada=1)
    assert two.query("bank:balance", {"owner": "ada"}) == 0


def test_abandoned_schedules_leave_no_pending_javascript(bank):
    transfer = {"src": "ada", "dst": "bob", "amount": 60}
    bank.explore([Op("bank:transferViaAction", transfer)] * 2, invariant=no_overdraft)
    engine = bank.project.engine
    assert engine._executions == {}
    assert engine._ctx.eval("__cs.pendingCount()") == 0
