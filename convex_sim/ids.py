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

from collections.abc import Callable
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
    decoded = decode_id(doc_id)
    return None if decoded is None else decoded[0]


def decode_id(doc_id: object) -> tuple[int, bytes] | None:
    """``(table number, 16-byte internal id)`` of ``doc_id``, or ``None`` if it is not an ID."""
    if type(doc_id) is not str or not 31 <= len(doc_id) <= 37:  # 19 to 23 bytes
        return None
    return _decode(doc_id)


def _decode(doc_id: str) -> tuple[int, bytes] | None:
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
    internal = payload[used:]
    if number == 0 or len(internal) != RANDOM_BYTES or encode_id(number, internal) != doc_id:
        return None
    return number, internal


# --- Drawing and encoding IDs a batch at a time -----------------------------------------------
#
# For a table number of two varint bytes (128 to 16383: every user and component table), the
# ID's 160 bits are: 16 bits of varint, the 128 random bits, the 16-bit footer. Its 32
# characters are then: 3 of varint alone, 1 of the last varint bit and the top 4 random bits,
# 24 of random bits alone, 1 of the low 4 random bits and the top footer bit, 3 of footer.
# A batch of random values is drawn in one call (the same bits, in the same order, as one
# draw each) and the 24 middle characters of all of them are made by spreading their bits
# into bytes with whole-integer masks and shifts: C speed, not a loop a character.

#: How many random values one draw makes.
BATCH = 64


def _ones(n: int) -> int:
    return (1 << n) - 1


def _repeated(width: int, period: int, count: int, offset: int = 0) -> int:
    """``count`` runs of ``width`` one bits, every ``period`` bits, the first at ``offset``."""
    mask = 0
    for i in range(count):
        mask |= _ones(width) << (offset + i * period)
    return mask


@lru_cache(maxsize=4)
def _spread_plan(batch: int) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """Masks that move ``batch`` values of 128 bits (value j at bit 128j, its 120 middle bits
    first shifted down by 4) to 256-bit slots, then each 5-bit unit of a slot to its own byte."""
    plan = []
    group = batch
    while group > 1:   # groups of slots: the upper half moves up, until slot j sits at 256j
        half = group // 2
        count, period = batch // group, group * 256
        plan.append((_repeated(half * 128, period, count), _repeated(half * 128, period, count, half * 128),
                     half * 128))
        group = half
    units, width = 32, 256
    while units > 1:   # within a slot: the upper half of the units moves up, to a byte each
        half = units // 2
        count = batch * 256 // width
        plan.append((_repeated(5 * half, width, count), _repeated(5 * half, width, count, 5 * half),
                     width // 2 - 5 * half))
        units, width = half, width // 2
    return _repeated(120, 128, batch), tuple(plan)


_UNIT_TO_CHAR = bytes.maketrans(bytes(range(32)), _ALPHABET.encode("ascii"))


@lru_cache(maxsize=4)
def _lane_masks(batch: int) -> tuple[int, ...]:
    """For each lane width 8, 16, 32, 64: the low half of every lane twice as wide, over
    ``batch`` values of 128 bits."""
    return tuple(_repeated(width, 2 * width, batch * 128 // (2 * width)) for width in (8, 16, 32, 64))


def _byte_sums(bits: int, batch: int) -> tuple[bytes, bytes]:
    """For each 128-bit value of ``bits`` (value j at bit 128j): the sum of its 16 bytes and
    the sum of their running sums (big-endian order), both mod 256, as two ``bytes`` of
    ``batch`` each. Lanes are summed in halves, whole-integer at a time: for a lane, ``S`` is
    its byte sum and ``W`` the sum of each byte times its little-endian place in the lane."""
    m8, *wider = _lane_masks(batch)
    high = (bits >> 8) & m8
    s, w = (bits & m8) + high, high
    for shift, mask in zip((16, 32, 64), wider, strict=True):
        s_high = (s >> shift) & mask
        w = (w & mask) + ((w >> shift) & mask) + (s_high << (shift // 8).bit_length() - 1)
        s = (s & mask) + s_high
    # the running sums add byte k (big-endian) 16 - k times: its little-endian place + 1
    return (s.to_bytes(16 * batch, "little")[::16], (w + s).to_bytes(16 * batch, "little")[::16])


def draw_batch(getrandbits: Callable[[int], int],
               batch: int = BATCH) -> tuple[bytes, list[tuple[str, int, int, int, int]]]:
    """The next ``batch`` random internal ids from ``getrandbits``, with the bits, in the
    order, that ``batch`` calls of ``getrandbits(128)`` would give.

    Returns their bytes, little-endian (value j's 16 bytes are ``raw[16j:16j + 16][::-1]``),
    and for each what :func:`encode_drawn` needs: its 24 middle characters, its byte sum
    and sum of running byte sums (mod 256), its first and last byte."""
    bits = getrandbits(128 * batch)   # value j: bits 128j to 128j + 127, as CPython fills them
    middles_mask, plan = _spread_plan(batch)
    n = (bits >> 4) & middles_mask
    for lo, hi, shift in plan:
        n = (n & lo) | ((n & hi) << shift)
    text = n.to_bytes(32 * batch, "big").translate(_UNIT_TO_CHAR).decode("ascii")
    raw = bits.to_bytes(16 * batch, "little")
    sums, running = _byte_sums(bits, batch)
    middles = [text[start:start + 24] for start in range(32 * batch - 24, -1, -32)]  # slot j last
    return raw, list(zip(middles, sums, running, raw[15::16], raw[::16], strict=True))


@lru_cache(maxsize=1024)
def table_part(table_number: int) -> tuple[str, int, int, int] | None:
    """What :func:`encode_drawn` needs of a table number of two varint bytes: its first 3
    characters, its last bit, and what its bytes add to the footer's two sums; None for
    other table numbers (encoded the general way)."""
    prefix = _varint(table_number)
    if len(prefix) != 2:
        return None
    p = prefix[0] << 8 | prefix[1]
    prefix_sum = sum(prefix)
    # every running sum over the random bytes starts from the prefix's sum
    running = 2 * prefix[0] + prefix[1] + RANDOM_BYTES * prefix_sum
    return _PAIRS[p >> 6] + _ALPHABET[(p >> 1) & 31], p & 1, prefix_sum, running


def encode_drawn(part: tuple[str, int, int, int], drawn: tuple[str, int, int, int, int]) -> str:
    """``encode_id(table_number, internal id)``, from the table's :func:`table_part` and the
    internal id's parts from :func:`draw_batch`."""
    head, last_bit, prefix_sum, prefix_running = part
    middle, byte_sum, running, first, last = drawn
    checksum = ((prefix_running + running) & 0xFF) << 8 | (prefix_sum + byte_sum) & 0xFF
    checksum ^= VERSION                                              # Fletcher-16 mod 256
    footer = (checksum & 0xFF) << 8 | checksum >> 8   # written little-endian
    tail = footer & 0x7FFF
    return (f"{head}{_ALPHABET[last_bit << 4 | first >> 4]}{middle}"
            f"{_ALPHABET[(last & 0xF) << 1 | footer >> 15]}{_PAIRS[tail >> 5]}{_ALPHABET[tail & 31]}")
