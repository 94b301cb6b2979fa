"""The Python twin of scenarios/ts_bank/convex/rules.ts: one function per documented Convex rule,
the same paths and behaviour, so tests/test_catalogue.py runs each rule against both apps."""
