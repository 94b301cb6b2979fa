"""Loading a snapshot ZIP is safe against hostile or damaged input: size caps hold before the
memory is used, and every failure is a ``SnapshotError`` naming file, member, line, field,
what was expected and what came."""

import base64
import hashlib
import json
import struct
import tracemalloc
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convex_sim import ConvexSim, define_schema, define_table, v
from convex_sim.data import SeedDataError, seed_table
from convex_sim.trace import DocumentImportError, SnapshotError
from convex_sim.trace.store import write_documents

SCHEMA = define_schema({
    "users": define_table({"name": v.string(), "age": v.optional(v.int64())}),
    "posts": define_table({"author": v.id("users"), "file": v.optional(v.id("_storage"))}),
})
# IDs as a deployment writes them: users is table 10001, posts 10002
ADA, BOB, POST = ("j57e7sr6gb10jk5ccafpzfpr5g3wvyqy", "j57fea5mz914gqht19ejyd3bnaa5b5nr",
                  "j97748rg8ey1g1z6yx0b4dfbem8yr170")
FILE = "3wxsrdcf6vra66vatfgmyc4wfkrm960"
BLOB = b"\x89PNG not really"
MiB = 1 << 20


def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def members(users=None, posts=None, storage=None):
    """The members of a small valid snapshot, as text (each part replaceable)."""
    users = users if users is not None else [
        {"_id": ADA, "_creationTime": 1700000000000.5, "name": "Ada",
         "age": {"$integer": base64.b64encode(struct.pack("<q", 36)).decode()}},
        {"_id": BOB, "_creationTime": 1700000000001.0, "name": "Bob"}]
    posts = posts if posts is not None else [
        {"_id": POST, "_creationTime": 1700000000002.0, "author": ADA, "file": FILE}]
    storage = storage if storage is not None else [{
        "_id": FILE, "_creationTime": 1700000000003.0, "size": len(BLOB), "contentType": "image/png",
        "sha256": base64.b64encode(hashlib.sha256(BLOB).digest()).decode(), "internalId": "abc"}]
    return {
        "README.md": "# Welcome to your Convex snapshot export!\n",
        "_tables/documents.jsonl": jsonl([{"name": "users", "id": 10001}, {"name": "posts", "id": 10002}]),
        "users/documents.jsonl": jsonl(users),
        "posts/documents.jsonl": jsonl(posts),
        "_storage/documents.jsonl": jsonl(storage),
        f"_storage/{FILE}.png": BLOB,
    }


def user(**fields):
    return {"_id": ADA, "_creationTime": 1700000000000.5, "name": "Ada", **fields}


def write_zip(path, parts, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def load(path, **caps):
    return ConvexSim(SCHEMA).load_snapshot(path, **caps)


def test_the_valid_snapshot_loads(tmp_path):
    assert load(write_zip(tmp_path / "s.zip", members())) == {"users": 2, "posts": 1, "_storage": 1}


# --- size caps -----------------------------------------------------------------------------------

def bomb(path, size, line=b"0" * MiB):
    """A ZIP with a users member of ``size`` bytes, written a line at a time (no big buffer)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_tables/documents.jsonl", '{"name":"users","id":10001}\n')
        with archive.open("users/documents.jsonl", "w") as out:
            for _ in range(size // len(line)):
                out.write(line)
    return path


def set_declared_size(path, member, size):
    """Rewrite ``member``'s uncompressed size in the local header and the central directory."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at != -1:
        if data[at + 46:at + 46 + len(name)] == name:
            struct.pack_into("<I", data, at + 24, size)
            (local,) = struct.unpack_from("<I", data, at + 42)
            if local + 26 <= len(data):  # an earlier mutation may have moved the header away
                struct.pack_into("<I", data, local + 22, size)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


def test_a_member_declaring_more_than_the_cap_is_refused_before_reading(tmp_path):
    path = set_declared_size(write_zip(tmp_path / "s.zip", members()), "users/documents.jsonl", 2**31)
    with pytest.raises(SnapshotError, match=r"s.zip: member 'users/documents.jsonl' declares "
                                            r"2,147,483,648 bytes; the cap is 268,435,456"):
        load(path)


def test_a_zip_bomb_stops_at_the_cap_with_little_memory(tmp_path):
    path = bomb(tmp_path / "bomb.zip", 64 * MiB, line=b"{}\n" * (MiB // 3))
    assert path.stat().st_size < MiB
    tracemalloc.start()
    try:
        with pytest.raises(SnapshotError, match=r"member 'users/documents.jsonl' declares 67,10"):
            load(path, max_member_bytes=4 * MiB)
        with pytest.raises(SnapshotError, match=r"snapshot holds more than 2,097,152 bytes"):
            load(path, max_bytes=2 * MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB


def test_a_bomb_that_lies_about_its_size_is_cut_off(tmp_path):
    path = set_declared_size(bomb(tmp_path / "bomb.zip", 32 * MiB), "users/documents.jsonl", 1000)
    tracemalloc.start()
    try:
        with pytest.raises(SnapshotError, match=r"member 'users/documents.jsonl'"):
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB


def test_a_long_line_is_refused_at_the_line_cap(tmp_path, monkeypatch):
    monkeypatch.setattr("convex_sim.trace.archive.MAX_LINE_BYTES", MiB)
    path = bomb(tmp_path / "bomb.zip", 8 * MiB)   # one line of 8 MiB
    tracemalloc.start()
    try:
        with pytest.raises(SnapshotError, match=r"users/documents.jsonl:1: expected a line of at most "
                                                r"1,048,576 bytes, got a longer one"):
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB


# --- corrupt members -----------------------------------------------------------------------------

def corrupt(tmp_path, **replace):
    return write_zip(tmp_path / "s.zip", {**members(), **replace})


def test_flipped_compressed_bytes_are_a_snapshot_error(tmp_path):
    parts = members(users=[{"_id": ADA, "_creationTime": 1.0, "name": "x" * 40 + str(i)} for i in range(1)])
    path = write_zip(tmp_path / "s.zip", parts)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("users/documents.jsonl")
    start = info.header_offset + 30 + len(info.filename)
    for i in range(start, start + info.compress_size):
        data[i] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match=r"s.zip: member 'users/documents.jsonl' is corrupt"):
        load(path)


@pytest.mark.parametrize(("replace", "message"), [
    ({"users/documents.jsonl": json.dumps(user()).encode() + b'\n\xff\xfe\n'},
     r"s.zip: users/documents.jsonl:2: expected UTF-8 text, got byte 0xff at column 1"),
    ({"users/documents.jsonl": "[" * 100_000 + "]" * 100_000 + "\n"},
     r"users/documents.jsonl:1: expected JSON nested at most 64 deep, got deeper nesting"),
    ({"users/documents.jsonl": '{"_id": "' + ADA + '", "_creationTime": 1, "name": "a"}\n{oops\n'},
     r"users/documents.jsonl:2: expected a JSON document, got invalid JSON \(Expecting property"),
    ({"_tables/documents.jsonl": '{"nam": "users", "id": 10001}\n'},
     r"_tables/documents.jsonl:1: field name: expected a table name \(a string\), got nothing"),
    ({"_tables/documents.jsonl": '[1, 2]\n'},
     r"_tables/documents.jsonl:1: expected an object, got an array"),
    ({"users/documents.jsonl": '{"_id": "' + ADA + '", "_creationTime": 1, "name": "a", '
      '"n": {"$integer": "AAA"}}\n'},
     r"users/documents.jsonl:1: expected a Convex value in export JSON, got Malformed \$integer"),
    ({"users/documents.jsonl": '{"_id": "' + ADA + '", "_creationTime": 1, "$bad": 1}\n'},
     r"users/documents.jsonl:1: expected a valid Convex document, got .*\$bad"),
    ({"_storage/documents.jsonl": '"just a string"\n'},
     r"_storage/documents.jsonl:1: expected an object, got a string"),
])
def test_corrupt_members_are_snapshot_errors_with_the_line(tmp_path, replace, message):
    with pytest.raises(SnapshotError, match=message):
        load(corrupt(tmp_path, **replace))


# --- system fields and IDs -----------------------------------------------------------------------

@pytest.mark.parametrize(("users", "message"), [
    ([user(_id="not-an-id")], r"users/documents.jsonl:1: field _id: expected an ID of table "
                              r"\"users\" \(table number 10001\), got 'not-an-id', which is not an ID"),
    ([user(_id=POST)], r"users/documents.jsonl:1: field _id: expected an ID of table \"users\" "
                       r"\(table number 10001\), got an ID of table \"posts\" \(10002\)"),
    ([user(_id=5)], r"users/documents.jsonl:1: field _id: expected an ID \(a string\), got 5.0"),
    ([user(_id=None)], r"field _id: expected an ID \(a string\), got null"),
    ([{"_creationTime": 1.0, "name": "a"}], r"field _id: expected an ID \(a string\), got nothing"),
    ([user(_creationTime="yesterday")], r"users/documents.jsonl:1: field _creationTime: expected "
                                        r"a finite number \(ms since the epoch\), got 'yesterday'"),
    ([user(_creationTime={"$integer": "JAAAAAAAAAA="})], r"field _creationTime: expected a finite "
                                                         r"number .*, got 36 \(an int64\)"),
    ([user(_creationTime={"$float": "AAAAAAAA8H8="})], r"field _creationTime: expected a finite number"),
    ([user(), user(name="again")], r"users/documents.jsonl:2: field _id: expected a new ID, got "
                                   r"'j57e7sr6gb10jk5ccafpzfpr5g3wvyqy', already at users/documents.jsonl:1"),
])
def test_bad_system_fields_are_refused(tmp_path, users, message):
    path = write_zip(tmp_path / "s.zip", members(users=users))
    sim = ConvexSim(SCHEMA)
    with pytest.raises(SnapshotError, match=message):
        sim.load_snapshot(path)
    assert sim.run(lambda ctx: ctx.db.query("users").collect()) == []   # nothing loaded


def test_bad_storage_rows_are_refused(tmp_path):
    good = members()["_storage/documents.jsonl"]
    row = json.loads(good)
    for change, message in [
        ({"_id": ADA}, r"_storage/documents.jsonl:1: field _id: expected an ID of a file, got an "
                       r"ID of table \"users\" \(10001\)"),
        ({"size": "big"}, r"_storage/documents.jsonl:1: field size: expected the file's size in "
                          r"bytes \(15\), got 'big'"),
        ({"size": 16}, r"field size: expected the file's size in bytes \(15\), got 16"),
        ({"contentType": 3}, r"field contentType: expected a string or null, got 3.0"),
        ({"sha256": 3}, r"field sha256: expected a base64 SHA-256 digest, got 3.0"),
    ]:
        path = write_zip(tmp_path / "s.zip", {**members(), "_storage/documents.jsonl": jsonl([{**row, **change}])})
        with pytest.raises(SnapshotError, match=message):
            load(path)
    twice = write_zip(tmp_path / "s.zip", {**members(), "_storage/documents.jsonl": good + good})
    with pytest.raises(SnapshotError, match=r"_storage/documents.jsonl:2: field _id: expected a new ID"):
        load(twice)


def test_an_id_that_exists_already_is_refused(tmp_path):
    path = write_zip(tmp_path / "s.zip", members())
    sim = ConvexSim(SCHEMA)
    sim.load_snapshot(path)
    with pytest.raises(SnapshotError, match=r"users/documents.jsonl:1: field _id: expected a new ID, "
                                            r"got 'j57e7sr6gb10jk5ccafpzfpr5g3wvyqy', which exists in "
                                            r"table \"users\""):
        sim.load_snapshot(path)


def test_schema_failures_are_snapshot_errors_too(tmp_path):
    path = write_zip(tmp_path / "s.zip", members(users=[user(name=3)]))
    with pytest.raises(SnapshotError) as caught:
        load(path)
    assert isinstance(caught.value, DocumentImportError)
    assert "users/documents.jsonl:1" in str(caught.value)


def test_tables_listed_wrongly_are_refused(tmp_path):
    for tables, message in [
        ('{"name": "users", "id": 10001}\n{"name": "users", "id": 10003}\n',
         r"_tables/documents.jsonl:2: field name: expected a table listed once, got 'users' again"),
        ('{"name": "users", "id": 10001}\n{"name": "posts", "id": 10001}\n',
         r"_tables/documents.jsonl:2: field id: expected a table number no other table has, got 10001"),
        ('{"name": "users", "id": "x"}\n', r"field id: expected a table number \(a positive integer\), got 'x'"),
        ('{"name": "_storage", "id": 7}\n', r"field name: expected a user table's name, got '_storage'"),
    ]:
        with pytest.raises(SnapshotError, match=message):
            load(corrupt(tmp_path, **{"_tables/documents.jsonl": tables}))


# --- the other import paths ----------------------------------------------------------------------

def test_importing_documents_checks_ids_and_system_fields():
    sim = ConvexSim(SCHEMA)
    for row, problem in [
        (("users", "not-an-id", {"_id": "not-an-id", "_creationTime": 1.0, "name": "a"}),
         "field _id: expected an ID of table \"users\""),
        (("users", POST, {"_id": POST, "_creationTime": 1.0, "name": "a"}),
         "got an ID of table \"posts\""),
        (("users", 5, {"_id": 5, "_creationTime": 1.0, "name": "a"}), "expected an ID (a string), got 5"),
        (("users", ADA, {"_id": BOB, "_creationTime": 1.0, "name": "a"}), f"got {BOB!r}, not the row's ID"),
        (("users", ADA, {"_id": ADA, "_creationTime": "x", "name": "a"}), "field _creationTime"),
    ]:
        with pytest.raises(DocumentImportError) as caught:
            write_documents(sim.db, [row], what="import")
        assert problem in str(caught.value)
    with pytest.raises(DocumentImportError, match="expected a new ID"):
        write_documents(sim.db, [("users", ADA, user())] * 2, what="import")


def test_seed_data_checks_the_ids_it_is_given():
    sim = ConvexSim(define_schema({"users": define_table({"name": v.string()}),
                                   "notes": define_table({"author": v.id("users")})}))
    seed_table(sim, "users", 2)
    with pytest.raises(SeedDataError, match=r"seed_table: row 0, field author: expected an ID of "
                                            r"table \"users\", got 'not-an-id'"):
        seed_table(sim, "notes", 1, fields={"author": lambda fake: "not-an-id"})
    note = seed_table(sim, "notes", 1)[0]
    with pytest.raises(SeedDataError, match=r"row 0, field author: expected an ID of table "
                                            r"\"users\", got '.*', an ID of table \"notes\""):
        seed_table(sim, "notes", 1, fields={"author": lambda fake: note})
    with pytest.raises(SeedDataError, match=r"field _id: expected a field of your own"):
        seed_table(sim, "users", 1, fields={"_id": lambda fake: ADA})


# --- mutated snapshots: SnapshotError or success, nothing else -----------------------------------

def line_mutation():
    junk = st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode),
                     st.sampled_from([b"{", b"[" * 5000, b"null", b'{"_id": 1}', b"1e999", b"9" * 5000,
                                      b'{"$integer": 5}', b'"\\ud800"', b'{"_id": "' + ADA.encode() + b'"}']))
    values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
                       st.sampled_from([ADA, POST, FILE, {"$integer": "AAAAAAAAAAA="}, [], {}]))
    field = st.sampled_from(["_id", "_creationTime", "name", "author", "size", "sha256", "id",
                             "contentType", "$x", "_x"])
    return st.one_of(
        st.tuples(st.just("junk"), st.integers(0, 3), junk),
        st.tuples(st.just("field"), st.integers(0, 3), st.tuples(field, values)),
        st.tuples(st.just("truncate"), st.integers(0, 200), st.none()),
        st.tuples(st.just("drop"), st.none(), st.none()),
    )


def mutate_member(data, mutation):
    kind, at, what = mutation
    data = data if isinstance(data, bytes) else data.encode()
    if kind == "truncate":
        return data[:at]
    if kind == "drop":
        return None
    lines = data.split(b"\n")
    at = min(at, len(lines) - 1)
    if kind == "junk":
        lines[at] = what
    else:
        try:
            row = json.loads(lines[at])
            row[what[0]] = what[1]
            lines[at] = json.dumps(row).encode()
        except (ValueError, TypeError, IndexError, RecursionError):   # the junk of an earlier step
            lines[at] = json.dumps({what[0]: what[1]}).encode()
    return b"\n".join(lines)


def byte_mutation():
    return st.one_of(
        st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 10**5), st.integers(1, 255)),
                                            min_size=1, max_size=8)),
        st.tuples(st.just("cut"), st.integers(0, 10**5)),
        st.tuples(st.just("size"), st.tuples(st.sampled_from(sorted(members())),
                                             st.sampled_from([0, 1, 2**31, 2**32 - 1, 300 * MiB]))),
    )


FUZZ = settings(database=None, max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(member=st.sampled_from(sorted(members())), mutations=st.lists(line_mutation(), min_size=1, max_size=3),
       stored=st.booleans(), schema=st.booleans())
def test_mutated_members_give_snapshot_error_or_load(tmp_path_factory, member, mutations, stored, schema):
    parts = members()
    for mutation in mutations:
        if parts.get(member) is not None:
            parts[member] = mutate_member(parts[member], mutation)
    parts = {k: x for k, x in parts.items() if x is not None}
    path = write_zip(tmp_path_factory.mktemp("m") / "s.zip", parts,
                     zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    sim = ConvexSim(SCHEMA if schema else None)
    try:
        sim.load_snapshot(path)
    except SnapshotError:
        return
    sim.run(lambda ctx: [ctx.db.query(t).collect() for t in ("users", "posts")])   # still readable
    sim.run(lambda ctx: ctx.db.insert("users", {"name": "new"}))


@FUZZ
@given(mutations=st.lists(byte_mutation(), min_size=1, max_size=4), stored=st.booleans())
def test_mutated_zip_bytes_give_snapshot_error_or_load(tmp_path_factory, mutations, stored):
    path = write_zip(tmp_path_factory.mktemp("b") / "s.zip", members(),
                     zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    for kind, what in mutations:
        if kind == "size":
            set_declared_size(path, *what)
            continue
        data = bytearray(path.read_bytes())
        if kind == "cut":
            data = data[:what % (len(data) + 1)]
        else:
            for at, mask in what:
                if data:
                    data[at % len(data)] ^= mask
        path.write_bytes(bytes(data))
    sim = ConvexSim(SCHEMA)
    try:
        sim.load_snapshot(path)
    except SnapshotError:
        return
    sim.run(lambda ctx: [ctx.db.query(t).collect() for t in ("users", "posts")])


def test_an_export_is_written_whole_with_a_new_files_mode(tmp_path):
    """Through a temporary file renamed into place (nothing left beside it), with the mode
    ``open()`` gives a new file, not mkstemp's 0600."""
    import os
    import stat

    from convex_sim.atomic import new_file_mode
    from convex_sim.functions import Registry

    sim = ConvexSim(None, Registry())
    path = sim.export_snapshot(tmp_path / "s.zip")
    assert os.listdir(tmp_path) == ["s.zip"]
    assert stat.S_IMODE(os.stat(path).st_mode) == new_file_mode()
