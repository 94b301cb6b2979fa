"""The hot path's shortcuts agree with the general code they stand in for.

Each shortcut (flat arguments and documents checked in one pass, ``take`` reading
without a stream, index keys filled in late, range bounds kept as calls come) is compared with
the general path on generated input: same result, same size, same read set,
same error or none.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from convex_sim import define_schema, define_table, v
from convex_sim.database import TOP, Database
from convex_sim.database.documents import check_document, check_flat_document
from convex_sim.errors import InvalidValueError, ValidationError
from convex_sim.validators import check_flat_object
from convex_sim.values import UNDEFINED, sort_key, value_size

FIELD_VALIDATORS = {"s": v.string(), "f": v.float64(), "o": v.optional(v.string()), "i": v.int64()}
VALUES = st.one_of(st.text(max_size=6), st.floats(allow_nan=False), st.integers(-5, 5), st.none(),
                   st.just(UNDEFINED), st.lists(st.integers(0, 3), max_size=2))


def general(body: dict, validator) -> tuple:
    """check_document then the validator: what ``_checked_fields`` does without the shortcut."""
    try:
        doc, size = check_document(body)
        return "ok", validator.check(doc, (), None), size
    except (InvalidValueError, ValidationError) as exc:
        return "error", type(exc).__name__


#: Names a document may not have at its top level, though an object validator may list them.
DOCUMENT_ONLY_REFUSES = {"_y": v.string(), "$z": v.float64(), "l" * 65: v.string()}


@settings(max_examples=400, deadline=None)
@given(fields=st.lists(st.sampled_from(sorted(FIELD_VALIDATORS | DOCUMENT_ONLY_REFUSES)), min_size=1,
                       max_size=4, unique=True),
       body=st.dictionaries(st.sampled_from(["s", "f", "o", "i", "x", "_y", "$z", "l" * 65]), VALUES,
                            max_size=5))
def test_a_flat_document_checked_in_one_pass_matches_the_two_checks(fields, body):
    validator = v.object({name: (FIELD_VALIDATORS | DOCUMENT_ONLY_REFUSES)[name] for name in fields})
    flat = check_flat_document(body, validator)
    expected = general(body, validator)
    if flat is not None:   # the shortcut answers only what it is sure of; else the full path runs
        assert expected == ("ok", flat[0], flat[1])
        assert list(flat[0]) == list(expected[1])   # the validator's field order


def test_the_one_pass_check_declines_what_it_cannot_decide():
    validator = v.object({"s": v.string(), "f": v.float64()})
    assert check_flat_document({"s": "é", "f": 1.0}, validator) is None      # non-ASCII: full path
    assert check_flat_document({"s": "a", "f": 1}, validator) == (
        {"s": "a", "f": 1.0}, check_document({"s": "a", "f": 1})[1])          # a number, as float64
    assert check_flat_document({"s": "a", "f": True}, validator) is None     # a bool is no number
    assert check_flat_document({"s": "a", "f": 1.0, "x": 1.0}, validator) is None
    assert check_flat_document({"s": "a"}, validator) is None                # missing field
    assert check_flat_document({"s": "a", "f": 2.5}, validator) == ({"s": "a", "f": 2.5},
                                                                     check_document({"s": "a", "f": 2.5})[1])
    assert check_flat_document({"s": "a"}, v.any()) is None                  # not an object validator


@settings(max_examples=400, deadline=None)
@given(fields=st.lists(st.sampled_from(sorted(FIELD_VALIDATORS)), max_size=4, unique=True),
       value=st.dictionaries(st.sampled_from(["s", "f", "o", "i", "x", "é"]), VALUES, max_size=5))
def test_flat_arguments_checked_in_one_pass_match_the_validator_and_their_size(fields, value):
    validator = v.object({name: FIELD_VALIDATORS[name] for name in fields})
    flat = check_flat_object(value, validator)
    if flat is not None:
        checked = validator.check(value, (), None)
        assert flat == (checked, value_size(checked))
        assert [type(x) for x in flat[0].values()] == [type(x) for x in checked.values()]


SCHEMA = define_schema({"t": define_table({"k": v.string(), "n": v.float64()}).index("by_k", ["k"])})


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(st.sampled_from("abcde"), max_size=8), lo=st.sampled_from("abcdef"),
       width=st.integers(0, 3), limit=st.integers(0, 4), descending=st.booleans(),
       pending=st.lists(st.sampled_from("abcde"), max_size=2), updates=st.integers(0, 3))
def test_take_reads_what_the_stream_reads(keys, lo, width, limit, descending, pending, updates):
    """``Transaction.read`` (take/first/unique) returns the stream's first ``limit`` documents
    and records the same read set, with and without the transaction's own writes, on a
    store with superseded versions."""
    def store() -> Database:   # the same store, IDs included, for each side
        db = Database(SCHEMA)
        ids = []
        for k in keys:
            txn = db.begin()
            ids.append(txn.insert("t", {"k": k, "n": 0.0}))
            txn.commit()
        for i in range(updates):   # versions whose index key moved
            if ids:
                txn = db.begin()
                txn.patch(ids[i % len(ids)], {"k": "abcde"[(i * 2) % 5]})
                txn.commit()
        return db

    low = ((sort_key(lo),))
    high = (sort_key(chr(ord(lo) + width)), TOP)
    order = "desc" if descending else "asc"
    results = []
    for shortcut in (True, False):
        txn = store().begin()
        for k in pending:
            txn.insert("t", {"k": k, "n": 1.0})
        if shortcut:
            docs = txn.read("t", "by_k", low, high, order, "", limit)
        else:
            docs = []
            if limit:
                for doc in txn.scan("t", "by_k", low, high, order, ""):
                    docs.append(doc)
                    if len(docs) == limit:
                        break
        results.append(([d["_id"] for d in docs], [(r.lo, r.hi) for r in txn.reads], txn.docs_read))
        txn.abort()
    assert results[0] == results[1]


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["insert", "move", "delete", "read", "snapshot", "rewind"]),
                              st.sampled_from("abcd")), max_size=25))
def test_indexes_filled_late_answer_as_a_model_does(ops):
    """New documents' keys wait unsorted until an index is read or edited; whatever the mix
    of inserts, key changes, deletes, rewinds and reads, every read sees what a plain model
    of the documents holds."""
    db = Database(SCHEMA)
    model: dict[str, str] = {}     # id -> k
    saved = None
    for op, k in ops:
        if op == "insert":
            txn = db.begin()
            model[txn.insert("t", {"k": k, "n": 0.0})] = k
            txn.commit()
        elif op in ("move", "delete") and model:
            doc_id = sorted(model)[ord(k) % len(model)]
            txn = db.begin()
            if op == "move":
                txn.patch(doc_id, {"k": k})
                model[doc_id] = k
            else:
                txn.delete(doc_id)
                del model[doc_id]
            txn.commit()
        elif op == "snapshot":
            saved = (db.snapshot(), dict(model))
        elif op == "rewind" and saved is not None:
            db.rewind(saved[0])
            model = dict(saved[1])
        elif op == "read":   # reads come now and then, so keys often wait across the other ops
            check_reads(db, model, k)
    for k in "abcd":
        check_reads(db, model, k)
    assert db.history.stats()["index_entries"] >= 3 * len(model)


def check_reads(db: Database, model: dict[str, str], k: str) -> None:
    txn = db.begin()
    seen = [d["_id"] for d in txn.scan("t", "by_k", (sort_key(k),), (sort_key(k), TOP))]
    everything = [d["_id"] for d in txn.scan("t", "by_creation_time")]
    txn.abort()
    assert sorted(seen) == sorted(i for i, key in model.items() if key == k)
    assert sorted(everything) == sorted(model)


def reference_object_check(validator, value: dict):
    """An object validator's check written plainly: extra fields first, then each field."""
    for key in value:
        if key not in validator.fields and value[key] is not UNDEFINED:
            raise ValidationError(f"extra {key}")
    out = {}
    for name, field in validator.fields.items():
        item = value.get(name, UNDEFINED)
        if item is UNDEFINED:
            if not field.is_optional:
                raise ValidationError(f"missing {name}")
            continue
        out[name] = field.check(item, (name,), None)
    return out


@settings(max_examples=400, deadline=None)
@given(fields=st.lists(st.sampled_from(sorted(FIELD_VALIDATORS)), max_size=4, unique=True),
       value=st.dictionaries(st.sampled_from(["s", "f", "o", "i", "x"]), VALUES, max_size=5))
def test_object_validators_check_as_written_plainly(fields, value):
    """Same result, and the same first error (an extra field before a missing or wrong one)."""
    validator = v.object({name: FIELD_VALIDATORS[name] for name in fields})

    def outcome(check):
        try:
            return "ok", check()
        except ValidationError as exc:
            text = str(exc)
            return "error", "extra" if "extra" in text else "other"

    assert outcome(lambda: validator.check(value, (), None)) == \
        outcome(lambda: reference_object_check(validator, value))


@settings(max_examples=300, deadline=None)
@given(calls=st.lists(st.tuples(st.sampled_from(["eq", "gt", "gte", "lt", "lte"]),
                                st.sampled_from(["a", "b", "c", "_creationTime"]),
                                st.sampled_from(["x", "y", 1.5])), max_size=4))
def test_range_bounds_of_leading_equalities_match_the_general_rule(calls):
    """The builder keeps the key prefix while every call is an ``eq`` on the next index field;
    the bounds (or the error) are those of the general rule."""
    from convex_sim.errors import IndexRangeError
    from convex_sim.queries import IndexRangeBuilder

    def bounds(shortcut: bool):
        builder = IndexRangeBuilder("by_abc", ("a", "b", "c", "_creationTime", "_id"), lambda f, x: x)
        try:
            for method, field, value in calls:
                getattr(builder, method)(field, value)
            if not shortcut:
                builder._prefix = None
            return builder.bounds()
        except IndexRangeError as exc:
            return type(exc).__name__, str(exc)

    assert bounds(True) == bounds(False)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), tables=st.lists(
    st.sampled_from([1, 2, 127, 128, 1017, 10_001, 16_383, 16_384, 300_000]), min_size=1, max_size=150))
def test_ids_drawn_a_batch_at_a_time_are_the_ids_drawn_one_at_a_time(seed, tables):
    """``draw_batch`` + ``encode_drawn`` give what one ``getrandbits(128)`` and ``encode_id``
    per ID give, in the same order, leaving the generator in the same state."""
    import random

    from convex_sim.ids import BATCH, draw_batch, encode_drawn, encode_id, table_part

    batched, single = random.Random(seed), random.Random(seed)
    drawn: list = []
    while len(drawn) < len(tables):
        raw, items = draw_batch(batched.getrandbits)
        drawn += [(raw[16 * j:16 * j + 16][::-1], item) for j, item in enumerate(items)]
    for table, (value, item) in zip(tables, drawn, strict=False):
        internal = single.getrandbits(128).to_bytes(16, "big")
        assert value == internal
        expected = encode_id(table, internal)
        part = table_part(table)
        assert part is None or encode_drawn(part, item) == expected
    for _ in range(len(drawn) - len(tables)):
        single.getrandbits(128)
    assert batched.getstate() == single.getstate()
    assert len(drawn) % BATCH == 0


def test_a_rewind_in_the_middle_of_a_batch_of_ids_draws_the_same_ids_again():
    db = Database(define_schema({"t": define_table({"n": v.float64()})}), seed=3)
    txn = db.begin()
    for n in range(10):
        txn.insert("t", {"n": float(n)})
    txn.commit()
    snap = db.snapshot()
    first = []
    for n in range(100):   # crosses into the next batch
        txn = db.begin()
        first.append(txn.insert("t", {"n": float(n)}))
        txn.commit()
    db.rewind(snap)
    again = []
    for n in range(100):
        txn = db.begin()
        again.append(txn.insert("t", {"n": float(n)}))
        txn.commit()
    assert again == first and len(set(first)) == 100
