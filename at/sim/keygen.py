"""The modem's own keys, simulated: AT%KEYGEN, AT%ATTESTTOKEN and AT%XMODEMUUID.

A key pair made by %KEYGEN is born in the simulated modem and kept in its store
(type 2 or 8 at the sec_tag): a list shows it, a read is refused, so it never
leaves over AT. The CSR is signed by that key; the COSE_Sign1 around the CSR's
SHA-256 by the device's identity key. Identity key and device UUID are fixed per
device name, as the real ones are fixed at the factory; the firmware UUID is fixed
per firmware version. Formats: ../shared/spec/nrf91-wire.md section 3.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import uuid
from pathlib import Path

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from .firmware import SECURITY, firmware_uuid, version_of
from .modem import ACTIVE_MODES, MODEM_OWNED_MIN, USER_TAG_LIMIT, Modem
from .store import FileStore, default_state_dir

KEY_TYPES = (2, 8)  # client private key, endorsement key
FORMAT_CSR, FORMAT_PUBLIC_KEY = 0, 1
PAYLOAD_ID = {FORMAT_CSR: 9, FORMAT_PUBLIC_KEY: 8}  # CSR message, public key message
IDENTITY_KEY_ID = -2
MSG_DEVICE_IDENTITY = 1
SELF_DESCRIBE = 55799
COSE_SIGN1 = 18
# What the modem asks for when no key usage is given: digitalSignature, nonRepudiation,
# keyEncipherment, keyAgreement (as seen in real %KEYGEN CSRs).
DEFAULT_KEY_USAGE = "111010000"
ATTRIBUTES = {"C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
              "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME,
              "EMAILADDRESS": NameOID.EMAIL_ADDRESS, "SERIALNUMBER": NameOID.SERIAL_NUMBER}


class Refused(Exception):
    """The command fails: code None is a plain ERROR, a number a +CME ERROR (as AT+CMEE says)."""

    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


# ---------------------------------------------------------------- identities


def device_uuid(name: str) -> uuid.UUID:
    """The device's UUID (what nRF Cloud claims it by): stable per device name, UUIDv4-shaped."""
    raw = hashlib.sha256(b"nrf91-sim device uuid/" + name.encode()).digest()[:16]
    return uuid.UUID(bytes=raw, version=4)


def identity_key(name: str) -> ec.EllipticCurvePrivateKey:
    """The device identity key (made at the factory, never leaves the modem): fixed per name."""
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256
    seed = int.from_bytes(hashlib.sha256(b"nrf91-sim identity key/" + name.encode()).digest(), "big")
    return ec.derive_private_key(seed % (order - 1) + 1, ec.SECP256R1())


def identity_public_key_pem(name: str) -> str:
    """The identity key's public half, as nRF Cloud would hold it: for tests that check COSE signatures."""
    return identity_key(name).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# ---------------------------------------------------------------- commands


def xmodemuuid(modem: Modem, suffix: str, params: list) -> tuple[list[str], str]:
    if suffix:
        raise Refused(None)
    return [f"%XMODEMUUID: {firmware_uuid(modem.revision)}"], "OK"


def attesttoken(modem: Modem, suffix: str, params: list) -> tuple[list[str], str]:
    if suffix or version_of(modem.revision) < SECURITY:
        raise Refused(None)
    body = cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE, [
        MSG_DEVICE_IDENTITY, device_uuid(modem.name).bytes, modem.flavour["device_type"],
        firmware_uuid(modem.revision).bytes, os.urandom(16)]))
    cose = _sign1(identity_key(modem.name), None, detached=body)
    return [f'%ATTESTTOKEN: "{_b64url(body)}.{_b64url(cose)}"'], "OK"


def keygen(modem: Modem, suffix: str, params: list) -> tuple[list[str], str]:
    """`AT%KEYGEN=<sec_tag>,<2|8>[,<0|1>[,"<attributes>"[,"<key usage>"]]]`."""
    if version_of(modem.revision) < SECURITY:
        raise Refused(None)  # no such command on this firmware
    if suffix != "=" or not 2 <= len(params) <= 5:
        raise Refused(None)
    tag, kind, fmt, attributes, usage = (params + [None] * 3)[:5]
    fmt = FORMAT_CSR if fmt is None else fmt
    if not isinstance(tag, int) or not 0 <= tag <= USER_TAG_LIMIT or kind not in KEY_TYPES \
            or fmt not in PAYLOAD_ID or not isinstance(attributes, (str, type(None))) \
            or not _valid_usage(usage) or (fmt == FORMAT_PUBLIC_KEY and (attributes or usage)):
        raise Refused(50)
    if tag >= MODEM_OWNED_MIN:
        raise Refused(519)
    if modem.store.cfun() in ACTIVE_MODES:
        raise Refused(518)
    if modem.options.keygen_fail:
        raise Refused(523)
    key = ec.generate_private_key(ec.SECP256R1())
    if fmt == FORMAT_CSR:
        try:
            subject = _subject(attributes) if attributes else x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, str(device_uuid(modem.name)))])
            body = _csr(key, subject, usage or DEFAULT_KEY_USAGE, legacy=modem.options.legacy_csr)
        except ValueError:
            raise Refused(523) from None  # the modem could not build a CSR from these attributes (inferred)
    else:
        body = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    modem.store.put(tag, kind, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()).decode())
    signed_tag = tag - 2**32 if tag >= 2**31 else tag  # the modem encodes it as an int32
    payload = cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE, [
        PAYLOAD_ID[fmt], device_uuid(modem.name).bytes, cbor2.dumps(signed_tag),
        hashlib.sha256(body + (b"\0" if modem.options.bad_digest else b"")).digest(), os.urandom(16)]))
    cose = _sign1(identity_key(modem.name), payload)
    return [f'%KEYGEN: "{_b64url(body)}.{_b64url(cose)}"'], "OK"


def _valid_usage(usage: object) -> bool:
    """None, or nine 0/1 characters with decipherOnly (the last) 0 and encipherOnly only with keyAgreement."""
    if usage is None:
        return True
    return (isinstance(usage, str) and re.fullmatch(r"[01]{9}", usage) is not None and usage[8] == "0"
            and not (usage[7] == "1" and usage[4] == "0"))


def _subject(attributes: str) -> x509.Name:
    names = []
    for part in attributes.split(","):
        key, sep, value = part.partition("=")
        oid = ATTRIBUTES.get(key.strip().upper())
        if not sep or oid is None or not value:
            raise ValueError(f"bad attribute {part!r}")
        names.append(x509.NameAttribute(oid, value))
    return x509.Name(names)


def _csr(key: ec.EllipticCurvePrivateKey, subject: x509.Name, usage: str, legacy: bool) -> bytes:
    bits = [c == "1" for c in usage]
    key_usage = x509.KeyUsage(digital_signature=bits[0], content_commitment=bits[1], key_encipherment=bits[2],
                              data_encipherment=bits[3], key_agreement=bits[4], key_cert_sign=bits[5],
                              crl_sign=bits[6], encipher_only=bits[7], decipher_only=bits[8])
    csr = (x509.CertificateSigningRequestBuilder().subject_name(subject)
           .add_extension(key_usage, critical=False).sign(key, hashes.SHA256()))
    der = csr.public_bytes(serialization.Encoding.DER)
    return _with_null_parameter(der) if legacy else der


def _with_null_parameter(der: bytes) -> bytes:
    """Older firmware's CSR: ecdsa-with-SHA256 followed by a NULL (the signature covers only the info)."""
    body_start, _ = _tlv(der, 0)
    info_start, info_end = _tlv(der, body_start)
    alg_start, alg_end = _tlv(der, info_end)
    algorithm = der[alg_start:alg_end] + b"\x05\x00"
    inner = der[body_start:info_end] + b"\x30" + _length(len(algorithm)) + algorithm + der[alg_end:]
    return b"\x30" + _length(len(inner)) + inner


def _tlv(der: bytes, offset: int) -> tuple[int, int]:
    """(start of value, end of value) of the DER element at `offset`."""
    first = der[offset + 1]
    if first < 0x80:
        return offset + 2, offset + 2 + first
    count = first & 0x7F
    size = int.from_bytes(der[offset + 2:offset + 2 + count], "big")
    return offset + 2 + count, offset + 2 + count + size


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _sign1(key: ec.EllipticCurvePrivateKey, payload: bytes | None, detached: bytes = b"") -> bytes:
    """COSE_Sign1 (tag 18) with ES256 and the identity key's id; a nil payload signs `detached`."""
    protected = cbor2.dumps({1: -7})
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload if payload is not None else detached])
    r, s = decode_dss_signature(key.sign(to_sign, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1, [protected, {4: cbor2.dumps(IDENTITY_KEY_ID)}, payload, signature]))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# ---------------------------------------------------------------- for tests only


def private_key_pem(name: str, sec_tag: int, state_dir: str | None = None) -> str:
    """TEST ONLY: the private key %KEYGEN made for simulated device `name` at `sec_tag`.

    Read from the simulator's store directly (`state_dir`: None for the default
    directory, a path, or "memory" for this process's in-memory devices), never
    through AT: no AT command reveals it, as on a real modem. It lets a test prove
    mutual TLS with the key that never left the modem.
    """
    if state_dir == "memory":
        from .device import _memory  # the process's in-memory devices, by name

        store = _memory.get(name)
    else:
        directory = Path(state_dir) if state_dir else default_state_dir()
        if not (directory / f"{name}.json").exists():
            raise LookupError(f"no simulated device {name!r} in {directory}")
        store = FileStore(directory, name, dict)
    content = store.credentials().get((sec_tag, 2)) if store is not None else None
    if content is None:
        raise LookupError(f"simulated device {name!r} holds no private key at sec_tag {sec_tag}")
    return content
