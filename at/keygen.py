"""%KEYGEN: a key pair born in the modem, and its CSR checked before anyone signs it.

The private key never leaves the modem; what comes back is a CSR and a COSE_Sign1,
made by the device identity key, over the CSR's SHA-256. A CSR whose digest does
not match was altered on the way and is refused. Older firmware encodes the CSR's
signature algorithm with a NULL parameter that strict parsers refuse: it is
re-encoded without it (the signature covers only the request info, so it still
verifies). Formats: nrf91-wire.md section 3.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from . import cose, credentials, protocol
from .errors import ModemFirmwareError, ProtocolError, ValidationError, VerificationError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from .soc import SoC

log = logging.getLogger(__name__)

MIN_FIRMWARE = (1, 3, 0)  # %KEYGEN CSRs and %ATTESTTOKEN
KEYGEN_TIMEOUT = 30.0  # key generation takes the modem seconds, not milliseconds
KEY_TYPE_CLIENT = 2
FORMAT_CSR = 0
PAYLOAD_CSR = 9
_ECDSA_SHA256 = bytes.fromhex("06082a8648ce3d040302")  # the OID element of ecdsa-with-SHA256
_SUBJECT_KEYS = {"C", "ST", "L", "O", "OU", "CN", "EMAILADDRESS", "SERIALNUMBER"}


@dataclass(frozen=True)
class KeygenResult:
    """What %KEYGEN made: the CSR (checked), whose key stays in the modem at `sec_tag`, type 2."""

    sec_tag: int
    csr: x509.CertificateSigningRequest
    csr_pem: str
    device_uuid: str
    key_id: int  # the COSE signing key: -2 device identity key
    key_name: str
    digest_ok: bool  # always True in a returned result: a mismatch raises VerificationError
    repaired: bool  # the CSR had the legacy NULL parameter and was re-encoded
    subject: str | None
    key_usage: str | None
    answer: str  # "<body>.<cose>" exactly as the modem sent it (nRF Cloud and nrfcloud-utils take this)

    @property
    def common_name(self) -> str | None:
        names = self.csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(names[0].value) if names else None

    @property
    def public_key_pem(self) -> str:
        return self.csr.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def as_dict(self) -> dict:
        return {"sec_tag": self.sec_tag, "device_uuid": self.device_uuid, "subject": self.csr.subject.rfc4514_string(),
                "signing_key": self.key_name, "digest_ok": self.digest_ok, "repaired": self.repaired,
                "csr": self.csr_pem}


def firmware_version(revision: str) -> tuple[int, int, int] | None:
    """`mfw_nrf9160_1.3.5` -> (1, 3, 5); None when the text holds no single x.y.z."""
    found = re.findall(r"(?:(?<=[-_])|^)(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?=[-_]|$)", revision.strip())
    if len(found) != 1:
        return None
    major, minor, patch = (int(part) for part in found[0])
    return major, minor, patch


def check_firmware(revision: str, what: str = "%KEYGEN", needed: tuple[int, int, int] = MIN_FIRMWARE) -> None:
    """Refuse firmware older than `needed`; an unknown format is let through (the modem then decides)."""
    version = firmware_version(revision)
    if version is None:
        log.warning("cannot read a version from modem firmware %r; trying %s anyway", revision, what)
        return
    if version < needed:
        raise ModemFirmwareError(f"the modem runs {revision}, and {what} needs modem firmware "
                            f"{'.'.join(map(str, needed))} or later: update the modem firmware")


def check_subject(subject: str) -> str:
    """`O=Acme,CN=kit-1`: KEY=VALUE pairs the modem understands, nothing that breaks the AT string."""
    if not subject or not subject.isascii() or not subject.isprintable() or '"' in subject:
        raise ValidationError(f"subject {subject!r}: use printable ASCII without quotes, e.g. \"CN=kit-1\"")
    for part in subject.split(","):
        key, sep, value = part.partition("=")
        if not sep or not value or key.strip().upper() not in _SUBJECT_KEYS:
            raise ValidationError(f"subject part {part!r}: use KEY=VALUE with KEY one of "
                                  "C, ST, L, O, OU, CN, emailAddress, serialNumber")
    return subject


def check_key_usage(key_usage: str) -> str:
    """Nine 0/1 characters, digitalSignature first; decipherOnly (the last) must be 0."""
    if not re.fullmatch(r"[01]{9}", key_usage or "") or key_usage[8] != "0":
        raise ValidationError(f"key usage {key_usage!r}: use nine 0/1 characters, digitalSignature first and "
                              "decipherOnly (the last) 0, e.g. 111010000")
    return key_usage


def build_command(sec_tag: int, subject: str | None = None, key_usage: str | None = None) -> str:
    credentials.check_sec_tag(sec_tag, writing=True)
    return protocol.build("%KEYGEN", sec_tag, KEY_TYPE_CLIENT, FORMAT_CSR,
                          None if subject is None else check_subject(subject),
                          None if key_usage is None else check_key_usage(key_usage))


def repair_csr(der: bytes) -> tuple[bytes, bool]:
    """Re-encode a CSR whose ecdsa-with-SHA256 carries a NULL parameter; others come back unchanged."""
    try:
        body, end = _element(der, 0)
        if der[0] != 0x30 or end != len(der):
            return der, False
        _, info_end = _element(der, body)
        algorithm, algorithm_end = _element(der, info_end)
        if der[info_end] != 0x30 or der[algorithm:algorithm_end] != _ECDSA_SHA256 + b"\x05\x00":
            return der, False
    except IndexError:
        return der, False
    inner = der[body:info_end] + b"\x30" + _length(len(_ECDSA_SHA256)) + _ECDSA_SHA256 + der[algorithm_end:]
    return b"\x30" + _length(len(inner)) + inner, True


def _element(der: bytes, offset: int) -> tuple[int, int]:
    """(value start, value end) of the DER element at `offset`; IndexError when cut short."""
    first = der[offset + 1]
    if first < 0x80:
        start, size = offset + 2, first
    else:
        count = first & 0x7F
        if not 0 < count <= 3 or offset + 2 + count > len(der):
            raise IndexError("bad DER length")
        start, size = offset + 2 + count, int.from_bytes(der[offset + 2:offset + 2 + count], "big")
    if start + size > len(der):
        raise IndexError("DER element runs past the end")
    return start, start + size


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def parse_answer(lines: list[str], sec_tag: int, subject: str | None = None,
                 key_usage: str | None = None) -> KeygenResult:
    """Check and decode the lines of a %KEYGEN CSR answer for `sec_tag`."""
    body_text, cose_text = cose.split_answer(lines, "%KEYGEN")
    body = cose.b64url(body_text, "%KEYGEN CSR")
    if cose_text is None:
        raise ProtocolError("the %KEYGEN answer has no COSE part: nothing proves the modem made this CSR")
    sign1 = cose.decode_sign1(cose_text, "%KEYGEN")
    if sign1.payload is None:
        raise ProtocolError("the %KEYGEN COSE part carries no payload (no digest of the CSR)")
    payload_id, device_uuid, tag_field, digest, nonce = cose.array(
        cose.loads(sign1.payload, "%KEYGEN COSE payload"), 5, "%KEYGEN COSE payload")
    if payload_id != PAYLOAD_CSR:
        raise ProtocolError(f"the %KEYGEN COSE payload is message type {payload_id!r}, not a CSR ({PAYLOAD_CSR})")
    signed_tag = cose.wrapped_integer(tag_field, "%KEYGEN sec_tag")
    signed_tag += 2**32 if signed_tag < 0 else 0  # tags above 2^31 travel as negative int32
    if signed_tag != sec_tag:
        raise ProtocolError(f"the modem signed a CSR for sec_tag {signed_tag}, not {sec_tag}")
    cose.bstr(nonce, "%KEYGEN nonce", 16)
    expected = cose.bstr(digest, "%KEYGEN CSR digest", 32)
    actual = hashlib.sha256(body).digest()
    if actual != expected:
        raise VerificationError(f"the CSR hashes to {actual.hex()}, but the modem signed {expected.hex()}: the "
                                "answer was altered on the way; nothing was signed, run keygen again")
    der, repaired = repair_csr(body)
    try:
        csr = x509.load_der_x509_csr(der)
        valid = csr.is_signature_valid
        key = csr.public_key()
    except ValueError as exc:
        raise ProtocolError(f"the %KEYGEN CSR cannot be parsed ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ProtocolError("the %KEYGEN CSR does not hold an ECDSA P-256 public key")
    if not valid:
        raise VerificationError("the %KEYGEN CSR's own signature does not verify: do not sign it; run keygen again")
    _check_subject_matches(csr, subject)
    pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    return KeygenResult(sec_tag, csr, pem, cose.uuid_of(device_uuid, "%KEYGEN device UUID"), sign1.key_id,
                        sign1.key_name, True, repaired, subject, key_usage, f"{body_text}.{cose_text}")


def _check_subject_matches(csr: x509.CertificateSigningRequest, subject: str | None) -> None:
    if subject is None:
        return
    got = {(a.rfc4514_attribute_name.upper(), str(a.value)) for a in csr.subject}
    for part in subject.split(","):
        key, _, value = part.partition("=")
        name = {"EMAILADDRESS": "1.2.840.113549.1.9.1", "SERIALNUMBER": "2.5.4.5"}.get(key.strip().upper(),
                                                                                       key.strip().upper())
        if (name, value) not in got:
            raise VerificationError(f"the CSR's subject {csr.subject.rfc4514_string()!r} lacks {part!r}, "
                                    "which was asked for")


def generate(soc: SoC, sec_tag: int, subject: str | None = None, key_usage: str | None = None) -> KeygenResult:
    """Make a key pair in the modem at `sec_tag` (type 2) and return its checked CSR.

    Asks AT+CGMR first: firmware older than 1.3.0 is refused before %KEYGEN is sent.
    The modem is taken offline for %KEYGEN and its CFUN mode restored after, also on error.
    """
    command = build_command(sec_tag, subject, key_usage)
    check_firmware(soc.get_firmware_version())
    with soc.offline():
        lines = soc.command(command, timeout=KEYGEN_TIMEOUT)
    return parse_answer(lines, sec_tag, subject, key_usage)
