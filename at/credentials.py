"""Credential types, and the checks content must pass before it goes to the modem.

Everything here runs before a byte is sent: a refused credential never reaches the
modem, so a bad file cannot leave a slot half-written or the link out of step.
"""
from __future__ import annotations

import re
from enum import IntEnum

from .errors import ValidationError
from .protocol import SECRET_CMNG_TYPES


class CredType(IntEnum):
    """The `<type>` of AT%CMNG."""

    ROOT_CA = 0
    CLIENT_CERT = 1
    CLIENT_PRIVATE_KEY = 2
    PSK = 3
    PSK_IDENTITY = 4
    PUBLIC_KEY = 5
    DEVICE_IDENTITY_PUBLIC_KEY = 6
    RESERVED = 7
    ENDORSEMENT_KEY = 8
    OWNERSHIP_KEY = 9
    NORDIC_ID_ROOT_CA = 10
    NORDIC_BASE_PUBLIC_KEY = 11


CRED_TYPE_ROOT_CA = CredType.ROOT_CA
CRED_TYPE_CLIENT_CERT = CredType.CLIENT_CERT
CRED_TYPE_CLIENT_PRIVATE_KEY = CredType.CLIENT_PRIVATE_KEY
CRED_TYPE_PSK = CredType.PSK
CRED_TYPE_PSK_IDENTITY = CredType.PSK_IDENTITY
CRED_TYPE_PUBLIC_KEY = CredType.PUBLIC_KEY

TYPE_NAMES = {
    CredType.ROOT_CA: "root CA certificate",
    CredType.CLIENT_CERT: "client certificate",
    CredType.CLIENT_PRIVATE_KEY: "client private key",
    CredType.PSK: "PSK",
    CredType.PSK_IDENTITY: "PSK identity",
    CredType.PUBLIC_KEY: "public key",
    CredType.DEVICE_IDENTITY_PUBLIC_KEY: "device identity public key",
    CredType.RESERVED: "reserved",
    CredType.ENDORSEMENT_KEY: "endorsement key",
    CredType.OWNERSHIP_KEY: "ownership key",
    CredType.NORDIC_ID_ROOT_CA: "Nordic identity root CA",
    CredType.NORDIC_BASE_PUBLIC_KEY: "Nordic base public key",
}

WRITABLE_TYPES = frozenset({CredType.ROOT_CA, CredType.CLIENT_CERT, CredType.CLIENT_PRIVATE_KEY,
                            CredType.PSK, CredType.PSK_IDENTITY})
# Type 1 is readable on some firmware, but the v1.x reference says no: refuse it here.
READABLE_TYPES = frozenset({CredType.ROOT_CA, CredType.PSK_IDENTITY})
SECRET_TYPES = frozenset(CredType(kind) for kind in SECRET_CMNG_TYPES)  # one list, shared with redaction

USER_SEC_TAG_MAX = 2147483647
MODEM_SEC_TAG_MAX = 4294967295
NRF_CLOUD_SEC_TAG = 16842753
PASSWD_MAX_LEN = 32


def type_name(cred_type: int) -> str:
    """A person's name for a type number, also for numbers outside the enum."""
    try:
        return TYPE_NAMES[CredType(cred_type)]
    except ValueError:
        return f"type {cred_type}"


def check_cred_type(cred_type: int) -> CredType:
    try:
        return CredType(cred_type)
    except (ValueError, TypeError):
        raise ValidationError(f"unknown credential type {cred_type!r}: use 0-11 (0 CA, 1 client cert, "
                              "2 private key, 3 PSK, 4 PSK identity)") from None


def check_sec_tag(sec_tag: int, *, writing: bool) -> int:
    """User tags are 0..2147483647; above that the modem owns them (readable, never writable)."""
    if not isinstance(sec_tag, int) or isinstance(sec_tag, bool):
        raise ValidationError(f"sec_tag must be an integer, not {sec_tag!r}")
    limit = USER_SEC_TAG_MAX if writing else MODEM_SEC_TAG_MAX
    if not 0 <= sec_tag <= limit:
        what = "writing or deleting" if writing else "this operation"
        raise ValidationError(f"sec_tag {sec_tag} is out of range for {what}: use 0..{limit}")
    return sec_tag


def check_writable(cred_type: int) -> CredType:
    kind = check_cred_type(cred_type)
    if kind not in WRITABLE_TYPES:
        raise ValidationError(f"type {int(kind)} ({type_name(kind)}) cannot be written with AT%CMNG: "
                              "only types 0-4 can")
    return kind


def check_readable(cred_type: int) -> CredType:
    kind = check_cred_type(cred_type)
    if kind not in READABLE_TYPES:
        raise ValidationError(f"type {int(kind)} ({type_name(kind)}) cannot be read back from the modem: "
                              "only root CA certificates (0) and PSK identities (4) can; use list to see its SHA-256")
    return kind


def check_passwd(passwd: str | None, cred_type: int) -> str | None:
    if passwd is None:
        return None
    if cred_type != CredType.CLIENT_PRIVATE_KEY:
        raise ValidationError("a password (passwd) is only used with an encrypted private key (type 2): "
                              "give none for this type")
    if not passwd:
        raise ValidationError("the password (passwd) is empty: give the key's password, or none")
    if len(passwd) > PASSWD_MAX_LEN:
        raise ValidationError(f"the password has {len(passwd)} characters; the modem takes at most {PASSWD_MAX_LEN}")
    _check_wire_text(passwd, "the password")
    return passwd


def _check_wire_text(text: str, what: str) -> None:
    """Rules every string parameter must meet to survive at_host's input handling."""
    if '"' in text:
        raise ValidationError(f'{what} contains a double quote ("), which would end the AT string early: remove it')
    if "\x08" in text or "\x7f" in text:
        raise ValidationError(f"{what} contains a backspace or DEL byte, which at_host treats as an edit: remove it")
    if "\x00" in text:
        raise ValidationError(f"{what} contains a NUL byte: remove it")
    try:
        text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{what} contains a non-ASCII character at position {exc.start}: "
                              "the modem stores ASCII only") from None


def normalise_pem(text: str) -> str:
    """LF line endings, no trailing blanks, exactly one final LF, no BOM.

    The modem hashes the exact bytes and 2.x firmware refuses CRLF, so one canonical
    form makes hashes predictable and writes portable across firmware.
    """
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.strip("\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines).strip() + "\n"


def _as_text(content: str | bytes) -> str:
    if isinstance(content, bytes):
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("the content is not text (UTF-8/ASCII): PEM files, hex PSKs and "
                                  "identities are text; convert DER with 'openssl x509 -inform der'") from None
    if not isinstance(content, str):
        raise ValidationError(f"content must be str or bytes, not {type(content).__name__}")
    return content


_MADE_BY_PREPARE = object()


class Prepared:
    """Content already validated for one type and password: exactly the text the modem will store.

    Made only by `prepare()`, so `SoC.write_credential` can take it as-is instead of
    validating a second time (a caller that checks before opening a port pays once).
    The text never appears in its repr: it may be a private key or a PSK. (A plain class,
    not a dataclass: `cmng` imports this module on every run, and dataclasses costs ~8 ms.)
    """

    __slots__ = ("cred_type", "text", "passwd")

    def __init__(self, cred_type: CredType, text: str, passwd: str | None = None, _made_by: object = None) -> None:
        if _made_by is not _MADE_BY_PREPARE:
            raise TypeError("Prepared content comes from at.credentials.prepare(); pass str or bytes otherwise")
        self.cred_type, self.text, self.passwd = cred_type, text, passwd

    def __repr__(self) -> str:
        return f"Prepared(cred_type={self.cred_type!r})"


def prepare(cred_type: int, content: str | bytes, passwd: str | None = None) -> Prepared:
    """Validate `content` once (see `prepare_content`) and keep the result with its type and password."""
    text = prepare_content(cred_type, content, passwd)
    return Prepared(CredType(int(cred_type)), text, passwd, _MADE_BY_PREPARE)


def prepared_text(cred_type: int, content: str | bytes | Prepared, passwd: str | None = None) -> str:
    """What to store: a `Prepared` taken as-is when it was made for this type and password, else validated now."""
    if not isinstance(content, Prepared):
        return prepare_content(cred_type, content, passwd)
    if content.cred_type != int(cred_type):
        raise ValidationError(f"the content was prepared as a {type_name(content.cred_type)} (type "
                              f"{int(content.cred_type)}), not type {int(cred_type)}: prepare it for type {int(cred_type)}")
    if content.passwd != passwd:
        raise ValidationError("the content was prepared with a different password: prepare it with the password "
                              "it is written with")
    return content.text


def prepare_content(cred_type: int, content: str | bytes, passwd: str | None = None) -> str:
    """Validate `content` for `cred_type` and return exactly what will be stored.

    PEM types are parsed (certificates by `at.der`, keys by `cryptography`), so a truncated file
    or a key given as a certificate is caught here rather than by a terse modem error.
    """
    kind = check_writable(cred_type)
    check_passwd(passwd, kind)
    text = _as_text(content)
    if kind in (CredType.ROOT_CA, CredType.CLIENT_CERT, CredType.CLIENT_PRIVATE_KEY):
        text = normalise_pem(text)
    elif kind == CredType.PSK:  # hex as 'xxd -p' prints it: split over lines, surrounding whitespace
        text = "".join(line.strip() for line in text.lstrip("\ufeff").splitlines())
    else:
        text = text.lstrip("\ufeff").rstrip("\r\n")
    if not (text if kind == CredType.PSK_IDENTITY else text.strip()):  # an identity of spaces is printable ASCII
        raise ValidationError(f"the {type_name(kind)} is empty: the modem refuses empty content")
    _check_wire_text(text, f"the {type_name(kind)}")
    if kind in (CredType.ROOT_CA, CredType.CLIENT_CERT):
        _check_certificates(text, kind)
    elif kind == CredType.CLIENT_PRIVATE_KEY:
        _check_private_key(text, passwd)
    elif kind == CredType.PSK:
        _check_psk(text)
    else:
        _check_identity(text)
    return text


def _check_certificates(text: str, kind: CredType) -> None:
    """Certificates are checked in pure Python (at.der): importing cryptography.x509 would cost each write ~30 ms."""
    from .der import check_pem_certificates

    if "-----BEGIN CERTIFICATE-----" not in text:
        hint = " (this looks like a private key: use type 2)" if "PRIVATE KEY-----" in text else ""
        raise ValidationError(f"the {type_name(kind)} is not a PEM certificate: no "
                              f"'-----BEGIN CERTIFICATE-----' line{hint}")
    others = sorted({label for label in _pem_labels(text) if label != "CERTIFICATE"})
    if others:
        raise ValidationError(f"the {type_name(kind)} holds a {others[0]} block besides certificates: a "
                              "certificate slot holds CERTIFICATE blocks only (a private key goes in type 2)")
    check_pem_certificates(text, f"the {type_name(kind)}")


def _check_private_key(text: str, passwd: str | None) -> None:
    from cryptography.hazmat.primitives import serialization

    if "PRIVATE KEY-----" not in text:
        raise ValidationError("the client private key is not a PEM private key: no "
                              "'-----BEGIN ... PRIVATE KEY-----' line")
    labels = _pem_labels(text)
    if len(labels) != 1 or not labels[0].endswith("PRIVATE KEY"):
        raise ValidationError(f"the client private key holds {len(labels)} PEM blocks ({', '.join(labels)}): "
                              "type 2 takes exactly one private key block")
    try:
        serialization.load_pem_private_key(text.encode("ascii"), password=passwd.encode() if passwd else None)
    except TypeError as exc:
        if "not encrypted" in str(exc):
            raise ValidationError("the private key is not encrypted: give no password (passwd)") from None
        raise ValidationError("the private key is encrypted: give its password as passwd "
                              f"(at most {PASSWD_MAX_LEN} characters)") from None
    except ValueError:
        if passwd:
            raise ValidationError("the private key cannot be decrypted with that password (passwd): "
                                  "check it") from None
        raise ValidationError("the client private key does not parse as a PEM private key: "
                              "check the file is complete") from None
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for odd keys
        raise ValidationError(f"the private key cannot be used: {exc}") from None


def _pem_labels(text: str) -> list[str]:
    """The label of every `-----BEGIN <label>-----` line, in order."""
    return re.findall(r"^-----BEGIN ([A-Z0-9 ]+)-----\s*$", text, flags=re.MULTILINE)


def _check_psk(text: str) -> None:
    if not re.fullmatch(r"[0-9A-Fa-f]+", text):
        raise ValidationError("the PSK must be hex digits only (0-9, a-f), two per byte, "
                              "e.g. 'a1b2c3...'; encode a text key with 'xxd -p'")
    if len(text) % 2:
        raise ValidationError(f"the PSK has {len(text)} hex digits, an odd number: "
                              "a PSK is written as two hex digits per byte")


def _check_identity(text: str) -> None:
    """Printable ASCII (space included), no control characters: a line break would end the command on
    some firmware. The length is bounded only by the command length (checked when the command is built)."""
    for index, char in enumerate(text):
        if not 0x20 <= ord(char) <= 0x7E:
            raise ValidationError(f"the PSK identity has a control or non-ASCII character at position {index}: "
                                  "use printable ASCII only")
