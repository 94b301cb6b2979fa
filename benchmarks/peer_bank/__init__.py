"""The bank app of ``../shared/peer/convex-test-bench`` (``convex/schema.js``, ``convex/bank.js``),
line for line in Python, for ``bench_peer.py``."""
