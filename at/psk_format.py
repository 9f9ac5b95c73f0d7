"""Mosquitto's `psk_file` format, exactly as the broker reads it (pure: no files, no locks).

What Mosquitto 2.0 does with the file (its password-file loader, shared by psk_file), mirrored here:
- lines end at LF. Its line buffer starts at 256 bytes and grows by 1000 each time a read fills it
  without an LF; a last line without LF whose length makes a read end exactly at the end of the
  file is never handed on (so it is no entry);
- a line whose first byte is '#' is a comment (' #id:key' is not: it is identity '#id'); a line
  without ':' is skipped, blank ones included;
- the rest is cut at ':' like strtok: empty fields vanish ('::id:key' is id/key, 'id:key:x' is
  id/key, 'id:' at the end of the file has no key and is skipped, 'id:' with LF has an empty key);
  identity and key lose leading and trailing ASCII whitespace (space, TAB, LF, VT, FF, CR);
- an identity or key over 65535 bytes skips its line;
- a key that is not all hex digits makes the broker refuse the whole file;
- duplicate identities are all kept and a lookup takes the first one in the file.


cmng's own marker is a comment line `#cmng-pending <identity>:<key>` (see pskfile.py and psk.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ValidationError
from .files import FileError, PathLike

WHITESPACE = b" \t\n\v\f\r"  # C isspace() in the C locale
FIELD_LIMIT = 65535
PENDING = b"#cmng-pending "
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
MAX_IDENTITY = 128  # OpenSSL 1.1's PSK_MAX_IDENTITY_LEN (3.x takes 256)
IMEI_DIGITS = 15


def _identity_problem(text: str, length: int) -> str | None:
    if text.startswith("#"):
        return "Mosquitto reads a line that starts with '#' as a comment"
    for index, char in enumerate(text):
        if char == ":":
            return "':' separates identity and key in the file"
        if not 0x21 <= ord(char) <= 0x7E or char == '"':
            return (f"character {index + 1} ({char!r}) is whitespace, a control character, not ASCII (Mosquitto "
                    "strips or the modem refuses those) or '\"' (it cannot be sent inside an AT command)")
    if length > MAX_IDENTITY:
        return f"the identity would have {length} characters and TLS libraries take at most {MAX_IDENTITY}"
    return None


def _refuse(what: str, problem: str | None) -> None:
    if problem:
        raise ValidationError(f"{what} cannot go in a Mosquitto psk_file: {problem}; use printable ASCII without "
                              "spaces, ':' or '\"', not starting with '#'")


def check_identity(identity: str) -> str:
    """`identity` if Mosquitto reads it back unchanged from `identity:key`; else ValidationError."""
    _refuse(f"PSK identity {identity!r}", _identity_problem(identity, len(identity)) if identity else "it is empty")
    return identity


def check_identity_prefix(prefix: str) -> str:
    """`prefix` if `prefix + IMEI` is always a usable identity (checked before any kit is touched)."""
    _refuse(f"identity prefix {prefix!r}", _identity_problem(prefix, len(prefix) + IMEI_DIGITS))
    return prefix


@dataclass(frozen=True)
class Line:
    """One line of the file as stored (`raw`, its ending included) and what the broker makes of it."""

    raw: bytes
    number: int
    identity: str | None = None  # an entry: identity and key as the broker reads them
    key: str | None = None
    pending: bool = False  # cmng's marker (a comment to the broker); identity/key are the pending ones

    @property
    def entry(self) -> bool:
        return self.identity is not None and not self.pending


def _reader_lines(data: bytes) -> list[tuple[bytes, bool]]:
    """Split `data` as Mosquitto's line reader does: (line, handed to the parser)."""
    lines: list[tuple[bytes, bool]] = []
    capacity, pos, end = 256, 0, len(data)  # the buffer keeps its size from one line to the next
    while pos < end:
        start, room = pos, capacity - 1
        while True:
            newline = data.find(b"\n", pos, pos + room)
            if newline != -1:
                pos = newline + 1
                lines.append((data[start:pos], True))
                break
            if end - pos < room:  # the read runs into the end of the file: the line is handed on
                pos = end
                lines.append((data[start:pos], True))
                break
            pos += room  # a full read without LF: the buffer grows and reading goes on
            capacity += 1000
            room = 1000
            if pos == end:  # ...and the next read finds nothing: the line is dropped
                lines.append((data[start:pos], False))
                break
    return lines


def _fields(raw: bytes) -> tuple[bytes, bytes] | None:
    if raw.startswith(b"#") or b":" not in raw:
        return None
    fields = [f for f in raw.split(b":") if f]
    if len(fields) < 2:
        return None
    identity, key = fields[0].strip(WHITESPACE), fields[1].strip(WHITESPACE)
    if len(identity) > FIELD_LIMIT or len(key) > FIELD_LIMIT:
        return None
    return identity, key


def parse(data: bytes, name: PathLike = "psk_file") -> list[Line]:
    """Every line of `data` with the broker's reading of it; FileError where the broker (or cmng) cannot use it."""
    if b"\0" in data:
        number = data.count(b"\n", 0, data.index(b"\0")) + 1
        raise FileError(f"{name} line {number} holds a NUL byte, which Mosquitto cannot read past: remove it")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        number = data.count(b"\n", 0, exc.start) + 1
        raise FileError(f"{name} line {number} is not UTF-8 text (byte 0x{data[exc.start]:02x}): fix that line or "
                        "choose another psk_file") from None
    lines = []
    for number, (raw, seen) in enumerate(_reader_lines(data), start=1):
        if raw.startswith(PENDING) and b":" in raw:
            identity, _, key = raw[len(PENDING):].strip(WHITESPACE).partition(b":")
            lines.append(Line(raw, number, identity.decode(), key.decode(), pending=True))
            continue
        fields = _fields(raw) if seen else None
        if fields is None:
            lines.append(Line(raw, number))
            continue
        identity, key = fields
        if not set(key) <= HEX_DIGITS:
            raise FileError(f"{name} line {number}: the key of identity {identity.decode()!r} is not hex, so Mosquitto "
                            "refuses the whole file: fix or remove that line")
        lines.append(Line(raw, number, identity.decode(), key.decode()))
    return lines


def view(lines: list[Line]) -> dict[str, str]:
    """identity -> hex key, as the broker looks them up (the first of duplicates wins)."""
    found: dict[str, str] = {}
    for line in lines:
        if line.entry:
            found.setdefault(line.identity, line.key)  # type: ignore[arg-type]
    return found


def pending_of(lines: list[Line]) -> dict[str, str]:
    return {line.identity: line.key for line in lines if line.pending}  # type: ignore[misc]
