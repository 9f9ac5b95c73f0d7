"""The signed envelopes of %KEYGEN and %ATTESTTOKEN answers: base64url, CBOR, COSE_Sign1.

Decoding only (with the maintained `cbor2`), strict about shape, and every
surprise raised as `ProtocolError` naming what was wrong: whatever the modem
sends, nothing but an `ATError` leaves here. Formats: nrf91-wire.md section 3.
"""
from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import cbor2

from .errors import ProtocolError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from typing import Any

SELF_DESCRIBE_TAG = 55799
COSE_SIGN1_TAG = 18
ES256 = -7
KEY_NAMES = {-2: "device identity key", -4: "Nordic production base key", -5: "Nordic R&D key"}


def split_answer(lines: list[str], prefix: str) -> tuple[str, str | None]:
    """`%KEYGEN: "<body>.<cose>"` -> ("<body>", "<cose>"); the COSE part may be missing (None)."""
    for line in lines:
        if line.upper().startswith(prefix.upper() + ":"):
            value = line[len(prefix) + 1:].strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            parts = value.split(".")
            if len(parts) > 2 or not parts[0]:
                raise ProtocolError(f"{prefix} answered {value[:60]!r}: expected <base64url>.<base64url>")
            return parts[0], (parts[1] if len(parts) == 2 and parts[1] else None)
    raise ProtocolError(f"the modem answered OK without a {prefix} line")


def b64url(text: str, what: str) -> bytes:
    """Strict base64url (padding optional): a stray character is an error, not ignored."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ProtocolError(f"the {what} is not base64url")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ProtocolError(f"the {what} is not valid base64url") from None


def loads(data: bytes, what: str) -> Any:
    """CBOR -> Python, with a self-describe tag (55799) around the value removed."""
    try:
        value = cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types for malformed input
        raise ProtocolError(f"the {what} is not valid CBOR ({exc})") from None
    return untag(value, SELF_DESCRIBE_TAG)


def untag(value: Any, tag: int) -> Any:
    if isinstance(value, cbor2.CBORTag) and value.tag == tag:
        return value.value
    return value


def array(value: Any, length: int, what: str) -> tuple:
    """A CBOR array of exactly `length` items; cbor2 gives lists or tuples, both are fine."""
    value = untag(value, SELF_DESCRIBE_TAG)
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise ProtocolError(f"the {what} is not a CBOR array of {length} items")
    return tuple(value)


def bstr(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, bytes) or (size is not None and len(value) != size):
        raise ProtocolError(f"the {what} is not a byte string" + (f" of {size} bytes" if size else ""))
    return value


def integer(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"the {what} is not an integer")
    return value


def wrapped_integer(value: Any, what: str) -> int:
    """An integer the modem wraps in a byte string (key ids, sec_tags); a bare integer is taken as well."""
    if isinstance(value, bytes):
        value = loads(value, what)
    return integer(value, what)


def uuid_of(value: Any, what: str) -> str:
    return str(uuid.UUID(bytes=bstr(value, what, 16)))


@dataclass(frozen=True)
class Sign1:
    """A decoded COSE_Sign1: ES256 over the payload (or, when it is nil, over the token's body)."""

    protected: bytes
    key_id: int
    payload: bytes | None
    signature: bytes

    @property
    def key_name(self) -> str:
        return KEY_NAMES.get(self.key_id, f"unknown key {self.key_id}")

    def signed_bytes(self, detached: bytes = b"") -> bytes:
        """The COSE Sig_structure that the signature covers (RFC 9052 section 4.4)."""
        payload = self.payload if self.payload is not None else detached
        return cbor2.dumps(["Signature1", self.protected, b"", payload])

    def verify(self, public_key: Any, detached: bytes = b"") -> bool:
        """Whether the signature verifies with `public_key` (e.g. the device identity key nRF Cloud holds)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        r, s = int.from_bytes(self.signature[:32], "big"), int.from_bytes(self.signature[32:], "big")
        try:
            public_key.verify(encode_dss_signature(r, s), self.signed_bytes(detached), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def decode_sign1(text: str, what: str) -> Sign1:
    """Decode the base64url COSE part of an answer; checks ES256, a key id and a 64-byte signature."""
    value = untag(loads(b64url(text, f"{what} COSE part"), f"{what} COSE part"), COSE_SIGN1_TAG)
    protected, unprotected, payload, signature = array(value, 4, f"{what} COSE_Sign1")
    header = loads(bstr(protected, f"{what} COSE protected header"), f"{what} COSE protected header")
    if not isinstance(header, Mapping) or header.get(1) != ES256:
        raise ProtocolError(f"the {what} COSE signature is not ES256 (ECDSA P-256 with SHA-256): {header!r}")
    if not isinstance(unprotected, Mapping) or 4 not in unprotected:
        raise ProtocolError(f"the {what} COSE unprotected header names no signing key")
    key_id = wrapped_integer(unprotected[4], f"{what} COSE key id")
    if payload is not None:
        bstr(payload, f"{what} COSE payload")
    return Sign1(protected, key_id, payload, bstr(signature, f"{what} COSE signature", 64))
