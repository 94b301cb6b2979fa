"""Document IDs are Convex's ``id_v6`` (convex-backend crates/value/src/id_v6.rs)."""

from convex_sim import ConvexSim, define_schema, define_table, v
from convex_sim.ids import decode_table_number, encode_id

#: id_v6.rs's test vector: table 1017, internal id b[0] = 251, b[i] = b[i-1] * 251 mod 256.
VECTOR_TABLE = 1017
VECTOR_ID = "z43zp6c3e75gkmz1kfwj6mbbx5sw281h"


def _vector_internal_id() -> bytes:
    out = [251]
    for _ in range(15):
        out.append(out[-1] * 251 % 256)
    return bytes(out)


def test_encoding_matches_convex_test_vector():
    """varint(table) + internal id + Fletcher-16 footer (little-endian), Crockford base32
    lowercase (id_v6.rs ``encode_into``, base32.rs ``ALPHABET``)."""
    assert encode_id(VECTOR_TABLE, _vector_internal_id()) == VECTOR_ID
    assert decode_table_number(VECTOR_ID) == VECTOR_TABLE


def test_decoding_rejects_what_convex_rejects():
    """id_v6.rs ``decode``: a wrong footer, a table number 0, a wrong length, a character
    outside the alphabet, or a non-canonical encoding is not an ID."""
    flipped = VECTOR_ID[:-1] + ("j" if VECTOR_ID[-1] != "j" else "k")
    assert decode_table_number(flipped) is None                       # footer mismatch
    assert decode_table_number(encode_id(0, bytes(16))) is None       # ZeroTableNumber
    assert decode_table_number(VECTOR_ID[:-2]) is None                # InvalidLength
    assert decode_table_number(VECTOR_ID.upper()) is None             # lowercase only
    assert decode_table_number(VECTOR_ID.replace("z", "u", 1)) is None  # "u" not in alphabet


def test_real_deployment_ids_are_valid_for_their_table():
    """An ID minted by a real deployment for user table 10001 (the first user table number,
    as a fresh deployment assigns) is a valid ID of the simulator's first table."""
    sim = ConvexSim(define_schema({"notes": define_table({"text": v.string()})}), seed=0)
    real = encode_id(10_001, _vector_internal_id())
    assert len(real) == 32
    assert sim.run(lambda ctx: ctx.db.normalize_id("notes", real)) == real
    assert sim.run(lambda ctx: ctx.db.get(real)) is None


def test_ids_are_deterministic_from_the_seed_and_decode_to_their_table():
    """Same seed, same IDs (docs/determinism.md); each decodes to its table's number."""
    schema = define_schema({"a": define_table({"n": v.int64()}), "b": define_table({"n": v.int64()})})

    def ids(seed):
        sim = ConvexSim(schema, seed=seed)
        return [sim.run(lambda ctx, t=t: ctx.db.insert(t, {"n": 1})) for t in ("a", "b", "a")]

    first = ids(0)
    assert first == ids(0) and first != ids(1)
    assert [decode_table_number(i) for i in first] == [10_001, 10_002, 10_001]
    assert all(len(i) == 32 for i in first)
