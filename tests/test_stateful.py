"""ConvexStateMachine: app functions as rules, a model checked every step, concurrent batches."""

from typing import ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from convex_sim import ConvexError, ConvexSim
from convex_sim.hypothesis.stateful import ConvexStateMachine
from scenarios.bank.bank import no_overdraft
from scenarios.bank.schema import schema

OWNERS = st.sampled_from(["ada", "bob", "cy"])
AMOUNTS = st.integers(0, 100)
RUN = settings(database=None, derandomize=True, deadline=None, max_examples=30,
               stateful_step_count=10, suppress_health_check=list(HealthCheck),
               phases=[Phase.generate, Phase.shrink])      # explain: minutes on state machines


class Bank(ConvexStateMachine):
    """The bank against a dict model of balances that mirrors the app: ``bank:transfer``
    reads both accounts, then writes src - amount and dst + amount."""

    functions = ("bank:open_account", "bank:transfer", "bank:balance")
    fields: ClassVar[dict] = {"owner": OWNERS, "src": OWNERS, "dst": OWNERS, "amount": AMOUNTS, "balance": AMOUNTS}

    def make_sim(self):
        self.model = {}
        return ConvexSim(schema, modules="scenarios.bank")

    def check_invariant(self, ctx):
        no_overdraft(ctx)

    def on_call(self, path, args, result):
        if isinstance(result, ConvexError):
            return
        if path == "bank:open_account":
            self.model[args["owner"]] = args["balance"]
        elif path == "bank:transfer":
            self.transfer(args["src"], args["dst"], args["amount"])
        elif path == "bank:balance":
            assert result == self.model.get(args["owner"], 0)

    def transfer(self, src, dst, amount):
        before_src, before_dst = self.model[src], self.model[dst]
        self.model[src] = before_src - amount
        self.model[dst] = before_dst + amount

    def check_model(self, sim):
        rows = sim.run(lambda ctx: ctx.db.query("accounts").collect())
        assert {r["owner"]: r["balance"] for r in rows} == self.model


def test_the_bank_matches_its_model():
    run_state_machine_as_test(Bank, settings=RUN)


class ConservingBank(Bank):
    """The model a user would write first: money moves, the total is conserved."""

    def transfer(self, src, dst, amount):
        self.model[src] -= amount
        self.model[dst] += amount


def test_the_model_finds_that_a_transfer_to_oneself_mints_money():
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(ConservingBank, settings=settings(RUN, max_examples=200))
    steps = "\n".join(caught.value.__notes__)
    assert "state.call_bank_open_account" in steps
    transfer = steps[steps.index("(bank:transfer)"):]
    source = transfer[transfer.index("'src': '") + 8:][:3]
    assert f"'dst': '{source}'" in transfer           # the shrunk example: a transfer to oneself


class RacyBank(ConvexStateMachine):
    """Concurrent batches of the racy action-based transfer between two open accounts."""

    concurrent = ("bank:transfer_via_action", "bank:transfer")
    fields: ClassVar[dict] = {"src": st.sampled_from(["ada", "bob"]),
                              "dst": st.sampled_from(["ada", "bob"]), "amount": AMOUNTS}
    check_serializable = False
    max_concurrent = 2

    def make_sim(self):
        sim = ConvexSim(schema, modules="scenarios.bank")
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
        sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
        return sim

    def check_invariant(self, ctx):
        no_overdraft(ctx)


def test_concurrent_rules_find_the_action_overdraft():
    with pytest.raises(AssertionError, match=r"invariant failed: .* has balance -"):
        run_state_machine_as_test(RacyBank, settings=settings(RUN, max_examples=300,
                                                              stateful_step_count=3))


class SafeBank(RacyBank):
    concurrent = ("bank:transfer",)
    check_serializable = True


def test_concurrent_atomic_transfers_pass_and_keep_the_model():
    run_state_machine_as_test(SafeBank, settings=RUN)


def test_rules_are_named_after_the_functions():
    names = {name for name in dir(Bank) if name.startswith(("call_", "run_"))}
    assert names == {"call_bank_open_account", "call_bank_transfer", "call_bank_balance"}
    assert not hasattr(Bank, "run_concurrently") and hasattr(RacyBank, "run_concurrently")


def test_make_sim_is_required():
    class Empty(ConvexStateMachine):
        functions = ("bank:transfer",)

    with pytest.raises(NotImplementedError, match="define make_sim"):
        Empty()
