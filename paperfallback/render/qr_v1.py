"""A QR code encoder for the one kind of code every page carries: version 1, alphanumeric.

Every form-instance payload (``K7-0042Q-X/2``, at most 16 characters of the QR
alphanumeric set) fits a version 1 code (21 x 21 modules). segno encodes it in about a
quarter of a millisecond per page and its import pulls in ``urllib``, ``http`` and ``ssl``
(issue #15: together about a tenth of a ward print). This module builds the same matrix
directly: the error correction level raised as far as version 1 allows (segno's
``boost_error``, never below the level asked for), one fixed mask, Reed-Solomon over
GF(256). Anything else (a longer payload, other characters) returns ``None`` and the
caller uses segno. The tests compare its matrix with segno's, module for module, for
thousands of payloads, so the printed codes stay byte-identical.

Reference: ISO/IEC 18004:2015, sections 7.4.4 (alphanumeric mode), 7.5 (error correction),
7.7 (placement), 7.8 (masking) and 7.9 (format information).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

SIZE = 21  # version 1
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALNUM_VALUE = {c: i for i, c in enumerate(ALPHANUMERIC)}
# level -> (format bits, data codewords, error correction codewords) for version 1
_LEVELS = {"L": (0b01, 19, 7), "M": (0b00, 16, 10), "Q": (0b11, 13, 13), "H": (0b10, 9, 17)}
_ORDER = "LMQH"
# The eight data masks (ISO/IEC 18004 table 10): True inverts the module at (row, column).
_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)

Matrix = tuple[tuple[int, ...], ...]


def encode_v1(payload: str, *, error: str = "M", mask: int = 1) -> Matrix | None:
    """The 21 x 21 module matrix (rows top down, 1 = dark, no quiet zone) of ``payload``
    at the highest error level from ``error`` up that version 1 holds, or None when the
    payload is not alphanumeric (or digits only) or does not fit version 1 at ``error``."""
    if payload.isdigit() or any(c not in _ALNUM_VALUE for c in payload):
        return None  # digits alone: segno picks numeric mode
    bits_needed = 4 + 9 + 11 * (len(payload) // 2) + 6 * (len(payload) % 2)
    level = None
    for name in _ORDER[_ORDER.index(error.upper()):]:
        if bits_needed <= _LEVELS[name][1] * 8:
            level = name
    if level is None:
        return None
    codewords = _codewords(payload, level)
    return None if codewords is None else _matrix(codewords, level, mask)


def _codewords(payload: str, level: str) -> list[int] | None:
    """Mode, count, data, terminator, padding, then the error correction codewords (None:
    segno's padding would overflow the level; the caller lets segno decide)."""
    _bits, data_words, ec_words = _LEVELS[level]
    bits: list[int] = []

    def put(value: int, length: int) -> None:
        bits.extend((value >> shift) & 1 for shift in range(length - 1, -1, -1))

    put(0b0010, 4)  # alphanumeric mode
    put(len(payload), 9)
    values = [_ALNUM_VALUE[c] for c in payload]
    for i in range(0, len(values) - 1, 2):
        put(values[i] * 45 + values[i + 1], 11)
    if len(values) % 2:
        put(values[-1], 6)
    capacity = data_words * 8
    bits.extend([0] * min(4, capacity - len(bits)))  # terminator
    # To the next codeword boundary as segno does it: a whole zero codeword when already
    # there (still a valid code: readers stop at the terminator). The same bytes as segno.
    bits.extend([0] * (8 - len(bits) % 8))
    if len(bits) > capacity:
        return None
    data = [int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8)]
    pad = (0xEC, 0x11)
    data += [pad[i % 2] for i in range(data_words - len(data))]
    return data + _reed_solomon(data, ec_words)


@cache
def _gf_tables() -> tuple[list[int], list[int]]:
    exp = [0] * 512
    log = [0] * 256
    value = 1
    for i in range(255):
        exp[i] = value
        log[value] = i
        value <<= 1
        if value & 0x100:
            value ^= 0x11D  # x^8 + x^4 + x^3 + x^2 + 1
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


@cache
def _generator(degree: int) -> tuple[int, ...]:
    """Coefficients of (x - a^0)(x - a^1)...(x - a^(degree-1)), highest power first."""
    exp, log = _gf_tables()
    poly = [1]
    for i in range(degree):
        nxt = [*poly, 0]
        for j, coef in enumerate(poly):
            if coef:
                nxt[j + 1] ^= exp[log[coef] + i]
        poly = nxt
    return tuple(poly)


def _reed_solomon(data: list[int], degree: int) -> list[int]:
    exp, log = _gf_tables()
    gen = _generator(degree)
    rem = [*data, *([0] * degree)]
    for i in range(len(data)):
        coef = rem[i]
        if coef:
            factor = log[coef]
            for j in range(1, degree + 1):
                if gen[j]:
                    rem[i + j] ^= exp[log[gen[j]] + factor]
    return rem[len(data):]


@cache
def _function_modules() -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[bool, ...], ...]]:
    """The finder, separator and timing patterns and the dark module (version 1 has no
    alignment or version information), and which modules they and the format use."""
    dark = [[0] * SIZE for _ in range(SIZE)]
    used = [[False] * SIZE for _ in range(SIZE)]
    for top, left in ((0, 0), (0, SIZE - 7), (SIZE - 7, 0)):
        for r in range(-1, 8):
            for c in range(-1, 8):
                row, col = top + r, left + c
                if not (0 <= row < SIZE and 0 <= col < SIZE):
                    continue
                ring = max(abs(r - 3), abs(c - 3))
                dark[row][col] = int(ring != 2 and ring != 4)
                used[row][col] = True
    for i in range(8, SIZE - 8):
        dark[6][i] = dark[i][6] = int(i % 2 == 0)
        used[6][i] = used[i][6] = True
    for row, col in _format_positions()[0] + _format_positions()[1]:
        used[row][col] = True
    dark[SIZE - 8][8] = 1  # the dark module
    used[SIZE - 8][8] = True
    return tuple(map(tuple, dark)), tuple(map(tuple, used))


@cache
def _format_positions() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(row, column) of format bits 0..14 in each of its two copies."""
    first = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)] + [
        (8, 14 - i) for i in range(9, 15)]
    second = [(8, SIZE - 1 - i) for i in range(8)] + [(SIZE - 15 + i, 8) for i in range(8, 15)]
    return first, second


def _format_bits(level: str, mask: int) -> int:
    data = _LEVELS[level][0] << 3 | mask
    rem = data
    for _ in range(10):
        rem = (rem << 1) ^ ((rem >> 9) * 0x537)
    return (data << 10 | rem) ^ 0x5412


@cache
def _placement(mask: int) -> tuple[tuple[int, int, int], ...]:
    """(row, column, mask bit) of each data module in placement order: the two-column
    zigzag from the bottom right (ISO/IEC 18004 7.7.3)."""
    _fixed, used = _function_modules()
    flip = _MASKS[mask]
    order = []
    right = SIZE - 1
    while right >= 1:
        if right == 6:
            right = 5  # the vertical timing pattern
        upward = ((right + 1) & 2) == 0
        for vert in range(SIZE):
            row = SIZE - 1 - vert if upward else vert
            for col in (right, right - 1):
                if not used[row][col]:
                    order.append((row, col, int(flip(row, col))))
        right -= 2
    return tuple(order)


def _matrix(codewords: list[int], level: str, mask: int) -> Matrix:
    fixed, _used = _function_modules()
    grid = [list(row) for row in fixed]
    order = _placement(mask)
    bits = [(word >> (7 - k)) & 1 for word in codewords for k in range(8)]
    bits += [0] * (len(order) - len(bits))  # remainder bits (none in version 1)
    for (row, col, flip), bit in zip(order, bits, strict=True):
        grid[row][col] = bit ^ flip
    fmt = _format_bits(level, mask)
    for copy in _format_positions():
        for i, (row, col) in enumerate(copy):
            grid[row][col] = (fmt >> i) & 1
    return tuple(map(tuple, grid))
