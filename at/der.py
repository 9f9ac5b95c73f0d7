"""A strict check that PEM text holds whole, well-formed X.509 certificates: pure Python, no I/O.

Why not `cryptography`: importing `cryptography.x509` costs every certificate write ~30 ms of CPU,
more than the rest of `cmng write`. The modem must still never get a broken certificate, so this is
at least as strict as `cryptography.x509.load_pem_x509_certificates` on what it can see: the PEM
framing, the DER encoding of every element (definite, minimal lengths; children exactly fill their
parent), and the RFC 5280 shape of Certificate and TBSCertificate down to the fields a parser
reads when it loads a certificate. It does not look inside keys, signatures or extension values.
"""
from __future__ import annotations

import binascii
import re

from .errors import ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

BEGIN, END = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")
_PRINTABLE = re.compile(rb"[A-Za-z0-9 '()+,\-./:=?]*")  # X.680's PrintableString alphabet
_NAMES = {0x01: "a BOOLEAN", 0x02: "an INTEGER", 0x03: "a BIT STRING", 0x04: "an OCTET STRING", 0x05: "a NULL",
          0x06: "an OBJECT IDENTIFIER", 0x30: "a SEQUENCE", 0x31: "a SET"}
# Algorithms whose parameters are NULL or absent (RSA and ECDSA signatures, RSA keys), or must be absent
# (EdDSA), as cryptography reads them: anything else there is refused when the certificate is loaded.
_NULL_OR_ABSENT = {bytes.fromhex(h) for h in ("2a864886f70d010101", "2a864886f70d010105", "2a864886f70d01010b",
                                              "2a864886f70d01010c", "2a864886f70d01010d", "2a864886f70d01010e",
                                              "2a8648ce3d0401", "2a8648ce3d040301", "2a8648ce3d040302",
                                              "2a8648ce3d040303", "2a8648ce3d040304")}
_ABSENT = {bytes.fromhex("2b6570"), bytes.fromhex("2b6571")}  # Ed25519, Ed448
_SEQUENCE = {bytes.fromhex("2a864886f70d010301"), bytes.fromhex("2a8648ce3e0201")}  # Diffie-Hellman: its group
_RSA_PSS = bytes.fromhex("2a864886f70d01010a")  # RSASSA-PSS: absent, or a SEQUENCE of hash, mask and salt
_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # its parameter names a curve: an OID, NULL or a SEQUENCE


class _Bad(ValueError):
    """One defect of one certificate; `cut` when the text ends early rather than being wrong."""

    def __init__(self, detail: str, cut: bool = False) -> None:
        super().__init__(detail)
        self.cut = cut


class _Node:
    """One DER element: where it starts, its tag byte, where its content starts and stops, its children if any."""

    __slots__ = ("at", "tag", "start", "stop", "kids")

    def __init__(self, at: int, tag: int, start: int, stop: int, kids: list[_Node] | None) -> None:
        self.at, self.tag, self.start, self.stop, self.kids = at, tag, start, stop, kids


def check_pem_certificates(text: str, what: str = "the certificate") -> int:
    """Raise `ValidationError` unless every CERTIFICATE block of `text` is a whole X.509 certificate.

    Text outside the blocks is allowed, as every PEM reader (cryptography, mbed TLS) allows it:
    `openssl x509 -text` prints a readable dump before the block. Returns the number of certificates.
    """
    try:
        blocks = _blocks(text)
    except _Bad as exc:
        raise ValidationError(f"{what} does not parse as a PEM certificate ({exc}): check the file is not "
                              "corrupted") from None
    if not blocks:
        raise ValidationError(f"{what} is not a PEM certificate: no '{BEGIN}' line")
    for number, (line, body) in enumerate(blocks, 1):
        try:
            if body is None:
                raise _Bad(f"has no '{END}' line after its BEGIN line {line}", cut=True)
            check_der_certificate(_decode(body))
        except _Bad as exc:
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
            raise _Bad(f"line {number} is an END line with no BEGIN line before it")
        elif "-----BEGIN CERTIFICATE" in line or "-----END CERTIFICATE" in line:
            raise _Bad(f"line {number} has a certificate's BEGIN or END marker but is not that marker alone")
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
            raise _Bad(f"has a blank line {number}" if not line else f"has {bad.group()!r} on line {number}, "
                       "which is not a base64 character")
    joined = "".join(line for _, line in body)
    data = joined.rstrip("=")
    if not joined:
        raise _Bad("has no base64 text between its BEGIN and END lines", cut=True)
    if "=" in data or len(joined) - len(data) > 2:
        raise _Bad("has '=' padding before the end of its base64 text")
    if len(joined) % 4:
        raise _Bad(f"has {len(joined)} base64 characters, not a multiple of 4 (cut off, or its '=' padding is "
                   "missing)", cut=True)
    decoded = binascii.a2b_base64(joined)
    if binascii.b2a_base64(decoded, newline=False).decode() != joined:
        raise _Bad("has a corrupted last base64 character (its unused bits are not zero)")
    return decoded


def check_der_certificate(der: bytes) -> None:
    """Raise `_Bad` unless `der` is exactly one DER-encoded X.509 Certificate (RFC 5280 section 4.1)."""
    if der[0] != 0x30:
        raise _Bad(f"is not an X.509 certificate: it starts with byte 0x{der[0]:02x}, not a SEQUENCE")
    head_stop, length = _header(der, 0, len(der))
    if head_stop + length > len(der):
        raise _Bad(f"is cut off: {len(der)} of {head_stop + length} bytes", cut=True)
    if head_stop + length < len(der):
        raise _Bad(f"has {len(der) - head_stop - length} bytes after the end of the certificate")
    cert = _walk(der, 0, len(der), 0)[0]
    _shape(der, cert)


def _header(der: bytes, pos: int, end: int) -> tuple[int, int]:
    """(where the content starts, its length) of the element at `pos`; DER: definite, minimal lengths."""
    if der[pos] & 0x1F == 0x1F:  # a tag number of 31 or more follows, base-128, minimal
        at, number = pos, 0
        pos += 1
        while pos < end and der[pos] & 0x80:
            number, pos = number << 7 | der[pos] & 0x7F, pos + 1
        if pos < end and (der[at + 1] == 0x80 or (number << 7 | der[pos]) < 31):
            raise _Bad(f"has a tag number that is not minimally encoded at byte {at}")
    pos += 1
    if pos >= end:
        raise _Bad(f"has an element cut off in its header at byte {pos}", cut=end == len(der))
    first, pos = der[pos], pos + 1
    if first < 0x80:
        return pos, first
    if first == 0x80:
        raise _Bad(f"has an indefinite length at byte {pos - 1} (BER, not DER)")
    size = first & 0x7F
    if size > 4 or pos + size > end:
        raise _Bad(f"has an impossible length at byte {pos - 1}")
    length = int.from_bytes(der[pos:pos + size], "big")
    if der[pos] == 0 or length < 0x80:
        raise _Bad(f"has a length that is not minimally encoded at byte {pos - 1} (not DER)")
    return pos + size, length


def _walk(der: bytes, pos: int, end: int, depth: int) -> list[_Node]:
    """Every element between `pos` and `end`, constructed ones with their children, which must fill them exactly."""
    if depth > 40:
        raise _Bad(f"nests elements deeper than any certificate does at byte {pos}")
    nodes = []
    while pos < end:
        start, length = _header(der, pos, end)
        if start + length > end:
            raise _Bad(f"has an element at byte {pos} longer than the element holding it")
        kids = _walk(der, start, start + length, depth + 1) if der[pos] & 0x20 else None
        nodes.append(_Node(pos, der[pos], start, start + length, kids))
        pos = start + length
    return nodes


def _shape(der: bytes, cert: _Node) -> None:
    """Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }, and what is inside."""
    def field(node: _Node | None, tag: int, name: str, check: Callable[[_Node], object] | None = None) -> _Node:
        if node is None or node.tag != tag:
            found = "missing" if node is None else f"{_NAMES.get(node.tag, f'tag 0x{node.tag:02x}')}"
            hint = _hint(der, cert)
            raise _Bad(f"is not an X.509 certificate: {name} is {found}, not {_NAMES.get(tag, f'[{tag & 0x1F}]')}"
                       f"{hint}")
        if check:
            check(node)
        return node

    def value(node: _Node) -> bytes:
        return der[node.start:node.stop]

    def integer(node: _Node) -> None:
        body = value(node)
        if not body or (len(body) > 1 and (body[0], body[1] >> 7) in ((0, 0), (0xFF, 1))):
            raise _Bad(f"has an INTEGER at byte {node.start} that is {'empty' if not body else 'not minimal'} (not DER)")

    def oid(node: _Node) -> None:
        body = value(node)
        if not body or body[-1] & 0x80 or any(b == 0x80 and (i == 0 or not body[i - 1] & 0x80)
                                              for i, b in enumerate(body)):
            raise _Bad(f"has a malformed OBJECT IDENTIFIER at byte {node.start}")

    def bits(node: _Node) -> None:
        body = value(node)
        if not body or body[0] > 7 or (len(body) == 1 and body[0]) or body[-1] & ((1 << body[0]) - 1):
            raise _Bad(f"has a malformed BIT STRING at byte {node.start}")

    def algorithm(node: _Node) -> None:
        kids = node.kids + [None]
        algo = value(field(kids[0], 0x06, "an algorithm's identifier", oid))
        param = kids[1]
        allowed = (() if algo in _ABSENT else (0x05,) if algo in _NULL_OR_ABSENT else (0x30,) if algo in _SEQUENCE
                   else (0x30,) if algo == _RSA_PSS else (0x05, 0x06, 0x30) if algo == _EC_PUBLIC_KEY else None)
        if len(node.kids) > 2 or (param and param.tag == 0x05 and param.stop > param.start) or (
                allowed is not None and (param.tag not in allowed if param else algo in _SEQUENCE | {_EC_PUBLIC_KEY})):
            raise _Bad(f"has parameters that do not fit the algorithm at byte {node.at}")
        if param and param.tag == 0x06:
            oid(param)

    def name(node: _Node) -> None:  # SEQUENCE OF SET OF SEQUENCE { type OID, value }
        for rdn in node.kids:
            field(rdn, 0x31, "a Name's relative distinguished name")
            if any(der[a.at:a.stop] > der[b.at:b.stop] for a, b in zip(rdn.kids, rdn.kids[1:], strict=False)):
                raise _Bad(f"has a SET at byte {rdn.start} whose members are not in DER order")
            for pair in rdn.kids:
                field(pair, 0x30, "a Name's attribute")
                if len(pair.kids) != 2:
                    raise _Bad(f"has a Name attribute at byte {pair.start} that is not a type and a value")
                field(pair.kids[0], 0x06, "a Name attribute's type", oid)
                if not _string_ok(pair.kids[1].tag, value(pair.kids[1])):
                    raise _Bad(f"has a Name attribute value at byte {pair.kids[1].start} that its string type forbids")

    def time(node: _Node) -> None:
        text = value(node).decode("latin-1")
        digits = 12 if node.tag == 0x17 else 14
        if node.tag not in (0x17, 0x18) or not re.fullmatch(rf"[0-9]{{{digits}}}Z", text):
            raise _Bad(f"has a validity date at byte {node.start} that is not a UTCTime YYMMDDHHMMSSZ "
                       "or GeneralizedTime YYYYMMDDHHMMSSZ")
        year = int(text[:2]) + (1900 if int(text[:2]) >= 50 else 2000) if digits == 12 else int(text[:4])
        month, day, hour, minute, second = (int(text[i:i + 2]) for i in range(digits - 10, digits, 2))
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
        if not (1 <= month <= 12 and 1 <= day <= days[month - 1] and hour < 24 and minute < 60 and second < 60):
            raise _Bad(f"has a validity date at byte {node.start} that does not exist ({text})")

    top = cert.kids + [None] * 3
    if len(cert.kids) != 3:
        raise _Bad(f"is not an X.509 certificate: it holds {len(cert.kids)} elements, not 3{_hint(der, cert)}")
    tbs = field(top[0], 0x30, "the tbsCertificate")
    field(top[1], 0x30, "the signatureAlgorithm", algorithm)
    field(top[2], 0x03, "the signatureValue", bits)
    kids = tbs.kids + [None] * 8
    if kids[0] and kids[0].tag == 0xA0:  # [0] EXPLICIT version, absent for v1 (DER never encodes a default)
        version = kids.pop(0)
        if len(version.kids) != 1 or version.kids[0].tag != 0x02 or value(version.kids[0]) != b"\x02":
            raise _Bad("has a version field other than v3 (X.509 v1 certificates leave it out)")
    field(kids[0], 0x02, "the serialNumber", integer)
    field(kids[1], 0x30, "the tbsCertificate's signature algorithm", algorithm)
    field(kids[2], 0x30, "the issuer", name)
    validity = field(kids[3], 0x30, "the validity")
    if len(validity.kids) != 2:
        raise _Bad(f"has a validity with {len(validity.kids)} dates, not 2 (notBefore, notAfter)")
    for date in validity.kids:
        time(date)
    field(kids[4], 0x30, "the subject", name)
    spki = field(kids[5], 0x30, "the subjectPublicKeyInfo")
    if len(spki.kids) != 2:
        raise _Bad("has a subjectPublicKeyInfo that is not an algorithm and a key")
    field(spki.kids[0], 0x30, "the public key's algorithm", algorithm)
    field(spki.kids[1], 0x03, "the public key", bits)
    optional = [node for node in kids[6:] if node]
    if [node.tag for node in optional] != sorted({node.tag for node in optional} & {0x81, 0x82, 0xA3}):
        raise _Bad("has fields after the subjectPublicKeyInfo other than [1] issuerUniqueID, [2] subjectUniqueID "
                   "and [3] extensions, in that order")
    for node in optional:
        if node.tag == 0xA3:
            if len(node.kids) != 1:
                raise _Bad("has an extensions field that is not one SEQUENCE")
            for extension in field(node.kids[0], 0x30, "the extensions").kids:
                parts = field(extension, 0x30, "an extension").kids + [None]
                field(parts[0], 0x06, "an extension's identifier", oid)
                if parts[1] and parts[1].tag == 0x01:  # critical: TRUE, or left out (FALSE is the default)
                    if value(parts.pop(1)) != b"\xff":
                        raise _Bad(f"has an extension at byte {extension.start} whose critical flag is not DER TRUE")
                field(parts[1], 0x04, "an extension's value")
                if parts[2]:
                    raise _Bad(f"has an extension at byte {extension.start} with more than an identifier, "
                               "a critical flag and a value")
        else:
            bits(node)  # [1] and [2] are IMPLICIT BIT STRINGs


def _string_ok(tag: int, text: bytes) -> bool:
    """The string types whose content cryptography checks when it loads a Name (the others it keeps as bytes)."""
    try:
        if tag == 0x13:  # PrintableString
            return bool(_PRINTABLE.fullmatch(text))
        if tag == 0x1E:  # BMPString: UTF-16 without lone surrogates
            text.decode("utf-16-be")
        if tag == 0x1C:  # UniversalString: UTF-32 code points
            text.decode("utf-32-be")
    except UnicodeDecodeError:
        return False
    return True


def _hint(der: bytes, cert: _Node) -> str:
    """A private key or a certificate request in a CERTIFICATE block, named so the user knows what they gave."""
    first = cert.kids[0] if cert.kids else None
    if first and first.tag == 0x02:
        return " (this looks like a private key: use type 2)"
    if first and first.kids and first.kids[0].tag == 0x02 and first.kids[-1].tag == 0xA0:
        return " (this looks like a certificate signing request, not the certificate issued for it)"
    return ""
