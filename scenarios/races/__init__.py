"""Three classic races, each next to its correct twin.

* ``counter``: a client reads a value and writes value + 1 (a lost update);
  ``increment`` does it in one mutation.
* ``signup``: checking that a name is free and inserting it in separate
  transactions lets two sign-ups take the same name; one mutation cannot.
* ``orders``: a scheduled job reads an order, then charges it in another
  transaction; a cancellation in between leaves an order canceled *and*
  charged. ``process_safely`` re-checks inside the charging mutation.
* ``slots``: the control case, operations on disjoint documents.
"""
