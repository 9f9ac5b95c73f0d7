"""The RFC 5280 shape of a certificate whose DER at.der has walked: the fields, their types and encodings.

As strict as `cryptography.x509.load_der_x509_certificate` on everything it reads when it loads a
certificate (checked byte by byte against it in tests/test_der.py), without importing it.
"""
from __future__ import annotations

import re

from .der import Node, _Malformed  # _Malformed: never leaves at.der, which turns it into a ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_PRINTABLE = re.compile(rb"[A-Za-z0-9 '()+,\-./:=?]*")  # X.680's PrintableString alphabet
_NAMES = {0x01: "a BOOLEAN", 0x02: "an INTEGER", 0x03: "a BIT STRING", 0x04: "an OCTET STRING", 0x05: "a NULL",
          0x06: "an OBJECT IDENTIFIER", 0x30: "a SEQUENCE", 0x31: "a SET"}
# The parameters cryptography reads for the algorithms it knows, by OID: the tags allowed ("" for absent).
# Anything else there is refused when it loads the certificate. Other algorithms take any one parameter.
_PARAMS = {**dict.fromkeys(("2a864886f70d0101" + n for n in ("01", "05", "0b", "0c", "0d", "0e")), (b"", 0x05)),  # RSA
           **dict.fromkeys(("2a8648ce3d0401", *("2a8648ce3d04030" + n for n in "1234")), (b"", 0x05)),  # ECDSA
           "2b6570": (b"",), "2b6571": (b"",),  # Ed25519, Ed448
           "2a864886f70d01010a": (b"", 0x30),  # RSASSA-PSS: hash, mask and salt
           "2a864886f70d010301": (0x30,), "2a8648ce3e0201": (0x30,),  # Diffie-Hellman: the group
           "2a8648ce3d0201": (0x05, 0x06, 0x30)}  # an EC key: its curve, named by OID, implicit or specified


def check_shape(der: bytes, cert: Node) -> None:
    """Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }, and what is inside."""
    def field(node: Node | None, tag: int, name: str, check: Callable[[Node], object] | None = None) -> Node:
        if node is None or node.tag != tag:
            found = "missing" if node is None else f"{_NAMES.get(node.tag, f'tag 0x{node.tag:02x}')}"
            hint = _hint(der, cert)
            raise _Malformed(f"is not an X.509 certificate: {name} is {found}, not {_NAMES.get(tag, f'[{tag & 0x1F}]')}"
                             f"{hint}")
        if check:
            check(node)
        return node

    def value(node: Node) -> bytes:
        return der[node.start:node.stop]

    def integer(node: Node) -> None:
        body = value(node)
        if not body or (len(body) > 1 and (body[0], body[1] >> 7) in ((0, 0), (0xFF, 1))):
            raise _Malformed(f"has an INTEGER at byte {node.start} that is {'empty' if not body else 'not minimal'} (not DER)")

    def oid(node: Node) -> None:
        body = value(node)
        if not body or body[-1] & 0x80 or any(b == 0x80 and (i == 0 or not body[i - 1] & 0x80)
                                              for i, b in enumerate(body)):
            raise _Malformed(f"has a malformed OBJECT IDENTIFIER at byte {node.start}")

    def bits(node: Node) -> None:
        body = value(node)
        if not body or body[0] > 7 or (len(body) == 1 and body[0]) or body[-1] & ((1 << body[0]) - 1):
            raise _Malformed(f"has a malformed BIT STRING at byte {node.start}")

    def algorithm(node: Node) -> None:
        kids = node.kids + [None]
        algo = value(field(kids[0], 0x06, "an algorithm's identifier", oid))
        param, allowed = kids[1], _PARAMS.get(algo.hex())
        if len(node.kids) > 2 or (param and param.tag == 0x05 and param.stop > param.start) or (
                allowed and (param.tag if param else b"") not in allowed):
            raise _Malformed(f"has parameters that do not fit the algorithm at byte {node.at}")
        if param and param.tag == 0x06:
            oid(param)

    def name(node: Node) -> None:  # SEQUENCE OF SET OF SEQUENCE { type OID, value }
        for rdn in node.kids:
            field(rdn, 0x31, "a Name's relative distinguished name")
            if any(der[a.at:a.stop] > der[b.at:b.stop] for a, b in zip(rdn.kids, rdn.kids[1:], strict=False)):
                raise _Malformed(f"has a SET at byte {rdn.start} whose members are not in DER order")
            for pair in rdn.kids:
                field(pair, 0x30, "a Name's attribute")
                if len(pair.kids) != 2:
                    raise _Malformed(f"has a Name attribute at byte {pair.start} that is not a type and a value")
                field(pair.kids[0], 0x06, "a Name attribute's type", oid)
                if not _string_ok(pair.kids[1].tag, value(pair.kids[1])):  # cryptography checks these
                    raise _Malformed(f"has a Name attribute value at byte {pair.kids[1].start} that its string type forbids")

    def time(node: Node) -> None:
        text = value(node).decode("latin-1")
        digits = 12 if node.tag == 0x17 else 14
        if node.tag not in (0x17, 0x18) or not re.fullmatch(rf"[0-9]{{{digits}}}Z", text):
            raise _Malformed(f"has a validity date at byte {node.start} that is not a UTCTime YYMMDDHHMMSSZ "
                             "or GeneralizedTime YYYYMMDDHHMMSSZ")
        year = int(text[:2]) + (1900 if int(text[:2]) >= 50 else 2000) if digits == 12 else int(text[:4])
        month, day, hour, minute, second = (int(text[i:i + 2]) for i in range(digits - 10, digits, 2))
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
        if not (1 <= month <= 12 and 1 <= day <= days[month - 1] and hour < 24 and minute < 60 and second < 60):
            raise _Malformed(f"has a validity date at byte {node.start} that does not exist ({text})")

    top = cert.kids + [None] * 3
    if len(cert.kids) != 3:
        raise _Malformed(f"is not an X.509 certificate: it holds {len(cert.kids)} elements, not 3{_hint(der, cert)}")
    tbs = field(top[0], 0x30, "the tbsCertificate")
    field(top[1], 0x30, "the signatureAlgorithm", algorithm)
    field(top[2], 0x03, "the signatureValue", bits)
    kids = tbs.kids + [None] * 8
    if kids[0] and kids[0].tag == 0xA0:  # [0] EXPLICIT version, absent for v1 (DER never encodes a default)
        version = kids.pop(0)
        if len(version.kids) != 1 or version.kids[0].tag != 0x02 or value(version.kids[0]) != b"\x02":
            raise _Malformed("has a version field other than v3 (X.509 v1 certificates leave it out)")
    field(kids[0], 0x02, "the serialNumber", integer)
    field(kids[1], 0x30, "the tbsCertificate's signature algorithm", algorithm)
    field(kids[2], 0x30, "the issuer", name)
    validity = field(kids[3], 0x30, "the validity")
    if len(validity.kids) != 2:
        raise _Malformed(f"has a validity with {len(validity.kids)} dates, not 2 (notBefore, notAfter)")
    for date in validity.kids:
        time(date)
    field(kids[4], 0x30, "the subject", name)
    spki = field(kids[5], 0x30, "the subjectPublicKeyInfo")
    if len(spki.kids) != 2:
        raise _Malformed("has a subjectPublicKeyInfo that is not an algorithm and a key")
    field(spki.kids[0], 0x30, "the public key's algorithm", algorithm)
    field(spki.kids[1], 0x03, "the public key", bits)
    optional = [node for node in kids[6:] if node]
    if [node.tag for node in optional] != sorted({node.tag for node in optional} & {0x81, 0x82, 0xA3}):
        raise _Malformed("has fields after the subjectPublicKeyInfo other than [1] issuerUniqueID, [2] subjectUniqueID "
                         "and [3] extensions, in that order")
    for node in optional:
        if node.tag == 0xA3:
            if len(node.kids) != 1:
                raise _Malformed("has an extensions field that is not one SEQUENCE")
            for extension in field(node.kids[0], 0x30, "the extensions").kids:
                parts = field(extension, 0x30, "an extension").kids + [None]
                field(parts[0], 0x06, "an extension's identifier", oid)
                if parts[1] and parts[1].tag == 0x01:  # critical: TRUE, or left out (FALSE is the default)
                    if value(parts.pop(1)) != b"\xff":
                        raise _Malformed(f"has an extension at byte {extension.start} whose critical flag is not DER TRUE")
                field(parts[1], 0x04, "an extension's value")
                if parts[2]:
                    raise _Malformed(f"has an extension at byte {extension.start} with more than an identifier, "
                                     "a critical flag and a value")
        else:
            bits(node)  # [1] and [2] are IMPLICIT BIT STRINGs


def _string_ok(tag: int, text: bytes) -> bool:
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


def _hint(der: bytes, cert: Node) -> str:
    """A private key or a certificate request in a CERTIFICATE block, named so the user knows what they gave."""
    first = cert.kids[0] if cert.kids else None
    if first and first.tag == 0x02:
        return " (this looks like a private key: use type 2)"
    if first and first.kids and first.kids[0].tag == 0x02 and first.kids[-1].tag == 0xA0:
        return " (this looks like a certificate signing request, not the certificate issued for it)"
    return ""
