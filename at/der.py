"""A strict check that PEM text holds whole, well-formed X.509 certificates: pure Python, no I/O.

Why not `cryptography`: importing `cryptography.x509` costs every certificate write ~30 ms of CPU,
more than the rest of `cmng write`. The modem must still never get a broken certificate, so this is
at least as strict as `cryptography.x509.load_pem_x509_certificates` on what it can see: the PEM
framing, the DER encoding of every element (definite, minimal lengths; children exactly fill their
parent), and the RFC 5280 shape of Certificate and TBSCertificate down to the fields a parser
reads when it loads a certificate (at.x509shape). It does not look inside keys, signatures or
extension values.
"""
from __future__ import annotations

import binascii
import re

from .errors import ValidationError

BEGIN, END = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")


class _Malformed(ValueError):
    """One defect of one certificate; `cut` when the text ends early rather than being wrong."""

    def __init__(self, detail: str, cut: bool = False) -> None:
        super().__init__(detail)
        self.cut = cut


class Node:
    """One DER element: where it starts, its tag byte, where its content starts and stops, its children if any."""

    __slots__ = ("at", "tag", "start", "stop", "kids")

    def __init__(self, at: int, tag: int, start: int, stop: int, kids: list[Node] | None) -> None:
        self.at, self.tag, self.start, self.stop, self.kids = at, tag, start, stop, kids


def check_pem_certificates(text: str, what: str = "the certificate") -> int:
    """Raise `ValidationError` unless every CERTIFICATE block of `text` is a whole X.509 certificate.

    Text outside the blocks is allowed, as every PEM reader (cryptography, mbed TLS) allows it:
    `openssl x509 -text` prints a readable dump before the block. Returns the number of certificates.
    """
    try:
        blocks = _blocks(text)
    except _Malformed as exc:
        raise ValidationError(f"{what} does not parse as a PEM certificate ({exc}): check the file is not "
                              "corrupted") from None
    if not blocks:
        raise ValidationError(f"{what} is not a PEM certificate: no '{BEGIN}' line")
    for number, (line, body) in enumerate(blocks, 1):
        try:
            if body is None:
                raise _Malformed(f"has no '{END}' line after its BEGIN line {line}", cut=True)
            check_der_certificate(_decode(body))
        except _Malformed as exc:
            fix = "check the file is complete" if exc.cut else "check the file holds certificates and is not corrupted"
            raise ValidationError(f"{what} does not parse as a PEM certificate (certificate {number} of "
                                  f"{len(blocks)} {exc}): {fix}") from None
    return len(blocks)


def _blocks(text: str) -> list[tuple[int, list[tuple[int, str]] | None]]:
    """(line number of BEGIN, numbered base64 lines or None when no END line follows) for each block.

    Marker lines must stand alone (trailing blanks aside): one with anything else on it is a damaged file.
    Body lines are kept as they are, leading blanks included, for `_decode` to judge.
    """
    blocks: list[tuple[int, list[tuple[int, str]] | None]] = []
    body: list[tuple[int, str]] | None = None
    begun = 0
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        if line == BEGIN:
            if body is not None:  # a second BEGIN: the first block was cut off before its END
                blocks.append((begun, None))
            body, begun = [], number
        elif line == END and body is not None:
            blocks.append((begun, body))
            body = None
        elif line == END:
            raise _Malformed(f"line {number} is an END line with no BEGIN line before it")
        elif "-----BEGIN CERTIFICATE" in line or "-----END CERTIFICATE" in line:
            raise _Malformed(f"line {number} has a certificate's BEGIN or END marker but is not that marker alone")
        elif body is not None:
            body.append((number, line))
    if body is not None:
        blocks.append((begun, None))
    return blocks


def _decode(body: list[tuple[int, str]]) -> bytes:
    """Strict base64: alphabet characters only, no blank line, '=' only as the final padding, canonical bits.

    A blank or tab inside or before a line's text is refused too: mbed TLS on the modem refuses it.
    """
    for number, line in body:
        bad = _NOT_BASE64.search(line)
        if bad or not line:
            raise _Malformed(f"has a blank line {number}" if not line else f"has {bad.group()!r} on line {number}, "
                             "which is not a base64 character")
    joined = "".join(line for _, line in body)
    data = joined.rstrip("=")
    if not joined:
        raise _Malformed("has no base64 text between its BEGIN and END lines", cut=True)
    if "=" in data or len(joined) - len(data) > 2:
        raise _Malformed("has '=' padding before the end of its base64 text")
    if len(joined) % 4:
        raise _Malformed(f"has {len(joined)} base64 characters, not a multiple of 4 (cut off, or its '=' padding is "
                         "missing)", cut=True)
    decoded = binascii.a2b_base64(joined)
    if binascii.b2a_base64(decoded, newline=False).decode() != joined:
        raise _Malformed("has a corrupted last base64 character (its unused bits are not zero)")
    return decoded


def check_der_certificate(der: bytes) -> None:
    """Raise `_Malformed` (a ValueError) unless `der` is exactly one DER X.509 Certificate (RFC 5280 section 4.1)."""
    if not der:
        raise _Malformed("is empty", cut=True)
    if der[0] != 0x30:
        raise _Malformed(f"is not an X.509 certificate: it starts with byte 0x{der[0]:02x}, not a SEQUENCE")
    head_stop, length = _header(der, 0, len(der))
    if head_stop + length > len(der):
        raise _Malformed(f"is cut off: {len(der)} of {head_stop + length} bytes", cut=True)
    if head_stop + length < len(der):
        raise _Malformed(f"has {len(der) - head_stop - length} bytes after the end of the certificate")
    from .x509shape import check_shape  # imported here: it builds on this module's Node and _Malformed

    check_shape(der, _walk(der, 0, len(der), 0)[0])


def _header(der: bytes, pos: int, end: int) -> tuple[int, int]:
    """(where the content starts, its length) of the element at `pos`; DER: definite, minimal lengths."""
    if der[pos] & 0x1F == 0x1F:  # a tag number of 31 or more follows, base-128, minimal
        at, number = pos, 0
        pos += 1
        while pos < end and der[pos] & 0x80:
            number, pos = number << 7 | der[pos] & 0x7F, pos + 1
        if pos < end and (der[at + 1] == 0x80 or (number << 7 | der[pos]) < 31):
            raise _Malformed(f"has a tag number that is not minimally encoded at byte {at}")
    pos += 1
    if pos >= end:
        raise _Malformed(f"has an element cut off in its header at byte {pos}", cut=end == len(der))
    first, pos = der[pos], pos + 1
    if first < 0x80:
        return pos, first
    if first == 0x80:
        raise _Malformed(f"has an indefinite length at byte {pos - 1} (BER, not DER)")
    size = first & 0x7F
    if size > 4 or pos + size > end:
        raise _Malformed(f"has an impossible length at byte {pos - 1}")
    length = int.from_bytes(der[pos:pos + size], "big")
    if der[pos] == 0 or length < 0x80:
        raise _Malformed(f"has a length that is not minimally encoded at byte {pos - 1} (not DER)")
    return pos + size, length


def _walk(der: bytes, pos: int, end: int, depth: int) -> list[Node]:
    """Every element between `pos` and `end`, constructed ones with their children, which must fill them exactly."""
    if depth > 40:
        raise _Malformed(f"nests elements deeper than any certificate does at byte {pos}")
    nodes = []
    while pos < end:
        start, length = _header(der, pos, end)
        if start + length > end:
            raise _Malformed(f"has an element at byte {pos} longer than the element holding it")
        kids = _walk(der, start, start + length, depth + 1) if der[pos] & 0x20 else None
        nodes.append(Node(pos, der[pos], start, start + length, kids))
        pos = start + length
    return nodes
