"""Document IDs that encode their table: Convex's own ``id_v6`` format.

An ID is the base32 encoding (Crockford's alphabet, lowercase) of
``varint(table_number) + 16-byte internal id + footer``, where the footer is
the Fletcher-16 checksum (modulus 256) of the bytes before it, XOR the
version 0, written little-endian: 32 characters for table numbers up to
16383 (convex-backend ``crates/value/src/id_v6.rs`` and ``base32.rs``). So an
ID from a real deployment or snapshot export decodes here, and the other way
round. The checksum lets ``normalize_id`` tell an ID from any other string,
and the table number lets it say "this ID is for table X, not Y". The
internal ids come from the simulator's seeded generator, so IDs are
reproducible.
"""

from __future__ import annotations

import base64

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
#: RFC 4648 base32 has the same bit layout with another alphabet: encode in C, then translate.
_FROM_RFC4648 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode("ascii"))
RANDOM_BYTES = 16


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes) -> tuple[int, int]:
    n = shift = 0
    for i, byte in enumerate(data[:5]):
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, i + 1
    raise ValueError("bad varint")


VERSION = 0


def _checksum(data: bytes) -> bytes:
    """The footer: Fletcher-16 with modulus 256 of ``data``, XOR the version, little-endian."""
    c0 = c1 = 0
    for byte in data:
        c0 = (c0 + byte) & 0xFF
        c1 = (c1 + c0) & 0xFF
    return ((c1 << 8 | c0) ^ VERSION).to_bytes(2, "little")


def _b32encode(data: bytes) -> str:
    """Base32 of ``data``, 5 bits a character from the first bit on, the last one zero-padded."""
    return base64.b32encode(data).rstrip(b"=").translate(_FROM_RFC4648).decode("ascii")


def _b32decode(text: str) -> bytes | None:
    n = 0
    for c in text:
        digit = _DECODE.get(c)
        if digit is None:
            return None
        n = (n << 5) | digit
    bits = len(text) * 5
    nbytes = bits // 8
    return (n >> (bits - nbytes * 8)).to_bytes(nbytes, "big")


def encode_id(table_number: int, random_bytes: bytes) -> str:
    """Build the ID string for a document of table ``table_number``."""
    payload = _varint(table_number) + random_bytes
    return _b32encode(payload + _checksum(payload))


def decode_table_number(doc_id: object) -> int | None:
    """The table number encoded in ``doc_id``, or ``None`` if it is not an ID."""
    if type(doc_id) is not str or not 31 <= len(doc_id) <= 37:  # 19 to 23 bytes
        return None
    return _decode(doc_id)


def _decode(doc_id: str) -> int | None:
    raw = _b32decode(doc_id)
    if raw is None or len(raw) < RANDOM_BYTES + 3:
        return None
    payload, footer = raw[:-2], raw[-2:]
    if _checksum(payload) != footer:
        return None
    try:
        number, used = _read_varint(payload)
    except ValueError:
        return None
    if number == 0 or len(payload) - used != RANDOM_BYTES or encode_id(number, payload[used:]) != doc_id:
        return None
    return number
