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

from functools import lru_cache
from itertools import accumulate

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
#: Every 10-bit group as its two characters: encoding takes one lookup per two characters.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
RANDOM_BYTES = 16


@lru_cache(maxsize=1024)
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


def _footer(data: bytes) -> int:
    """Fletcher-16 with modulus 256 of ``data``, XOR the version: ``c0`` is the byte sum and
    ``c1`` the sum of the running sums (both mod 256), summed in C."""
    return ((sum(accumulate(data)) & 0xFF) << 8 | (sum(data) & 0xFF)) ^ VERSION


def _checksum(data: bytes) -> bytes:
    """The footer as the ID writes it: little-endian."""
    return _footer(data).to_bytes(2, "little")


@lru_cache(maxsize=64)
def _layout(nbytes: int) -> tuple[int, bool, tuple[int, ...]]:
    """How ``nbytes`` bytes encode: (padding bits, whether a lone first character leads,
    the shifts of the 10-bit groups after it)."""
    chars = -(-nbytes * 8 // 5)
    lone = chars % 2 == 1
    return chars * 5 - nbytes * 8, lone, tuple(range((chars - lone) * 5 - 10, -1, -10))


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
    footer = _footer(payload)   # little-endian after the payload, then base32 of it all:
    padding, lone, shifts = _layout(len(payload) + 2)
    n = (int.from_bytes(payload, "big") << 16 | (footer & 0xFF) << 8 | footer >> 8) << padding
    pairs = _PAIRS   # 5 bits a character from the first bit on, the last one zero-padded
    text = "".join([pairs[(n >> shift) & 0x3FF] for shift in shifts])
    return _ALPHABET[n >> (len(shifts) * 10)] + text if lone else text


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
