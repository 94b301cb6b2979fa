"""Convex snapshot export ZIPs: a ZIP built from the documented layout loads, exports back
identical, and bad ZIPs are clear errors."""

import base64
import hashlib
import json
import struct
import zipfile

import pytest

from convex_sim import ConvexSim, define_schema, define_table, v
from convex_sim.trace import DocumentImportError, SnapshotError

SCHEMA = define_schema({
    "users": define_table({"name": v.string(), "age": v.int64(), "avatar": v.bytes(),
                           "profile": v.object({"tags": v.array(v.string()), "score": v.float64()})}),
    "posts": define_table({"author": v.id("users"), "file": v.optional(v.id("_storage"))}),
})
# IDs as a real deployment writes them (table numbers 10001/10002 in its own numbering)
ADA, BOB, POST = ("j57e7sr6gb10jk5ccafpzfpr5g3wvyqy", "j57fea5mz914gqht19ejyd3bnaa5b5nr",
                  "j97748rg8ey1g1z6yx0b4dfbem8yr170")
FILE = "3wxsrdcf6vra66vatfgmyc4wfkrm960"
BLOB = b"\x89PNG not really"


def integer(n):
    return {"$integer": base64.b64encode(struct.pack("<q", n)).decode()}


def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def build(path, *, users=None, skip=(), storage_blob=BLOB):
    users = users if users is not None else [
        {"_id": ADA, "_creationTime": 1700000000000.5, "name": "Ada", "age": integer(36),
         "avatar": {"$bytes": base64.b64encode(b"\x00\x01\xff").decode()},
         "profile": {"tags": ["math", "engines"], "score": 9.5}},
        {"_id": BOB, "_creationTime": 1700000000001.0, "name": "Bob", "age": integer(-2**63),
         "avatar": {"$bytes": ""}, "profile": {"tags": [], "score": 0.25}},
    ]
    members = {
        "README.md": "# Welcome to your Convex snapshot export!\n",
        "_tables/documents.jsonl": jsonl([{"name": "users", "id": 10001}, {"name": "posts", "id": 10002}]),
        "users/documents.jsonl": jsonl(users),
        "users/generated_schema.jsonl": '"uniform"\n',
        "posts/documents.jsonl": jsonl([{"_id": POST, "_creationTime": 1700000000002.0, "author": ADA, "file": FILE}]),
        "posts/generated_schema.jsonl": '"uniform"\n',
        "_storage/documents.jsonl": jsonl([{
            "_id": FILE, "_creationTime": 1700000000003.0,
            "sha256": base64.b64encode(hashlib.sha256(BLOB).digest()).decode(), "size": len(BLOB),
            "contentType": "image/png", "internalId": "abc"}]),
        f"_storage/{FILE}.png": storage_blob,
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            if name not in skip:
                archive.writestr(name, data)
    return path


def test_a_documented_snapshot_loads_with_ids_types_and_files(tmp_path):
    sim = ConvexSim(SCHEMA)
    assert sim.load_snapshot(build(tmp_path / "s.zip")) == {"users": 2, "posts": 1, "_storage": 1}
    ada = sim.run(lambda ctx: ctx.db.get(ADA))
    assert ada == {"_id": ADA, "_creationTime": 1700000000000.5, "name": "Ada", "age": 36,
                   "avatar": b"\x00\x01\xff", "profile": {"tags": ["math", "engines"], "score": 9.5}}
    assert type(ada["age"]) is int and sim.run(lambda ctx: ctx.db.get(BOB))["age"] == -2**63
    assert sim.run(lambda ctx: ctx.db.get(POST))["author"] == ADA
    url = sim.run(lambda ctx: ctx.storage.get_url(FILE))
    assert sim.fetch(url).content == BLOB
    meta = sim.run(lambda ctx: ctx.storage.get_metadata(FILE))
    assert meta["size"] == len(BLOB) and meta["content_type"] == "image/png"
    # new documents come after the loaded ones
    new = sim.run(lambda ctx: ctx.db.insert("users", {"name": "Cy", "age": 1, "avatar": b"",
                                                      "profile": {"tags": [], "score": 1.0}}))
    assert sim.run(lambda ctx: ctx.db.get(new))["_creationTime"] > 1700000000001.0


def documents(path):
    with zipfile.ZipFile(path) as archive:
        return {name: sorted(archive.read(name).decode().splitlines())
                for name in archive.namelist() if name.endswith(".jsonl")}, {
                name.split(".")[0]: archive.read(name) for name in archive.namelist()
                if name.startswith("_storage/") and not name.endswith(".jsonl")}


def test_export_then_import_is_identical(tmp_path):
    source = build(tmp_path / "s.zip")
    sim = ConvexSim(SCHEMA)
    sim.load_snapshot(source)
    sim.export_snapshot(tmp_path / "out.zip")
    again = ConvexSim(SCHEMA, seed=7)
    again.load_snapshot(tmp_path / "out.zip")
    again.export_snapshot(tmp_path / "out2.zip")
    exported, files = documents(tmp_path / "out.zip")
    assert (exported, files) == documents(tmp_path / "out2.zip")
    original, original_files = documents(source)
    for table in ("users", "posts"):   # same documents, field for field, as the input
        member = f"{table}/documents.jsonl"
        assert [json.loads(x) for x in exported[member]] == [json.loads(x) for x in original[member]]
    assert files == {f"_storage/{FILE}": BLOB} and original_files == {f"_storage/{FILE}": BLOB}
    assert [json.loads(x)["sha256"] for x in exported["_storage/documents.jsonl"]] == [
        base64.b64encode(hashlib.sha256(BLOB).digest()).decode()]
    assert exported["_tables/documents.jsonl"] == ['{"name":"posts","id":10002}', '{"name":"users","id":10001}']


def test_documents_failing_the_schema_are_reported_not_dropped(tmp_path):
    bad = [{"_id": ADA, "_creationTime": 1.0, "name": "Ada", "age": 36.5, "avatar": {"$bytes": ""},
            "profile": {"tags": [3], "score": 1.0}}]
    sim = ConvexSim(SCHEMA)
    with pytest.raises(DocumentImportError) as caught:
        sim.load_snapshot(build(tmp_path / "s.zip", users=bad))
    assert [(b.table, b.id) for b in caught.value.bad] == [("users", ADA)]
    assert "users j57e7sr6gb10jk5ccafpzfpr5g3wvyqy" in str(caught.value)
    assert "Path: .age  Value: 36.5  Validator: v.int64()" in str(caught.value)
    assert sim.run(lambda ctx: ctx.db.query("posts").collect()) == []   # nothing loaded


@pytest.mark.parametrize(("skip", "blob", "message"), [
    (("posts/documents.jsonl",), BLOB, r"s.zip: member 'posts/documents.jsonl' is missing"),
    (("_tables/documents.jsonl",), BLOB, r"member '_tables/documents.jsonl' is missing"),
    ((f"_storage/{FILE}.png",), BLOB, rf"member '_storage/{FILE}' is missing"),
    ((), b"tampered", rf"member '_storage/{FILE}.png' is corrupt: sha256"),
])
def test_bad_snapshots_name_the_member(tmp_path, skip, blob, message):
    path = build(tmp_path / "s.zip", skip=skip, storage_blob=blob)
    before = path.read_bytes()
    with pytest.raises(SnapshotError, match=message):
        ConvexSim(SCHEMA).load_snapshot(path)
    assert path.read_bytes() == before


def test_a_corrupt_zip_member_and_a_non_zip_are_clear_errors(tmp_path):
    path = build(tmp_path / "s.zip")
    data = bytearray(path.read_bytes())
    at = data.find(b'"name": "Ada"')
    data[at:at + 5] = b"XXXXX"   # stored uncompressed: the CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match=r"member 'users/documents.jsonl' is corrupt"):
        ConvexSim(SCHEMA).load_snapshot(path)
    (tmp_path / "x.zip").write_text("not a zip")
    with pytest.raises(SnapshotError, match=r"x.zip: not a ZIP file"):
        ConvexSim(SCHEMA).load_snapshot(tmp_path / "x.zip")


def test_replay_from_a_snapshot(tmp_path):
    from convex_sim.cli import main
    from scenarios.bank.schema import schema

    sim = ConvexSim(schema, modules="scenarios.bank", seed=0)
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.export_snapshot(tmp_path / "s.zip")
    with sim.record(tmp_path / "t.jsonl"):
        sim.query("bank:balance", {"owner": "ada"})
    assert main(["replay", str(tmp_path / "t.jsonl"), "--app", "scenarios.bank"]) == 1   # no data
    assert main(["replay", str(tmp_path / "t.jsonl"), "--app", "scenarios.bank",
                 "--snapshot", str(tmp_path / "s.zip")]) == 0
