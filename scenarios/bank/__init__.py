"""A bank: accounts with balances, and transfers done right and done wrong.

``bank:transfer`` moves money in one mutation: it is serializable, so no
interleaving can overdraw an account. ``bank:transfer_via_action`` reads the
balance in one step and debits in another: a concurrent transfer can slip in
between, and the account goes negative. The explorer finds that race.
"""
