"""Mosquitto's `psk_file`, read exactly as the broker reads it and changed without disturbing anything else.

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

cmng's own marker is a comment line `#cmng-pending <identity>:<key>`: a key about to be written
to a kit, which the broker ignores until `commit` turns it into the entry (see psk.py).
Every change is made under the file's lock, re-reads the file, keeps every other line byte for
byte, checks that the broker's view changes exactly as intended, and replaces the file atomically.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .errors import ValidationError
from .files import FileError, PathLike, atomic_write, locked, probe_replace, real_path, remove_stale_temps

WHITESPACE = b" \t\n\v\f\r"  # C isspace() in the C locale
FIELD_LIMIT = 65535
PENDING = b"#cmng-pending "
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
MAX_IDENTITY = 128  # OpenSSL 1.1's PSK_MAX_IDENTITY_LEN (3.x takes 256)
IMEI_DIGITS = 15
BROKER_GROUP = "mosquitto"
LOCK_TIMEOUT = 60.0


def _identity_problem(text: str, length: int) -> Optional[str]:
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


def _refuse(what: str, problem: Optional[str]) -> None:
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
    identity: Optional[str] = None  # an entry: identity and key as the broker reads them
    key: Optional[str] = None
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


def _fields(raw: bytes) -> Optional[tuple[bytes, bytes]]:
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


def new_file_mode(folder: Path) -> tuple[int, Optional[int]]:
    """(mode, group) for a new psk_file: 0640 and the folder's group if that is the broker's, else 0600."""
    try:
        import grp

        gid = os.stat(folder).st_gid
        if grp.getgrgid(gid).gr_name == BROKER_GROUP:
            return 0o640, gid
    except (ImportError, KeyError, OSError):
        pass
    return 0o600, None


def _ending(raw: bytes, default: bytes) -> bytes:
    return b"\r\n" if raw.endswith(b"\r\n") else b"\n" if raw.endswith(b"\n") else default


def _ended(raws: list[bytes], newline: bytes) -> list[bytes]:
    """`raws` with a line end after the last line (before a line is appended, and when the file is written)."""
    if raws and not raws[-1].endswith(b"\n"):
        return [*raws[:-1], raws[-1] + newline]
    return raws


Edit = tuple[list[bytes], dict[str, str], dict[str, str]]  # new lines, the broker's view and pending keys expected
Change = Callable[[list[Line], bytes], Edit]


class PskFile:
    """One psk_file. Each method takes the lock, so threads and processes may share the file."""

    def __init__(self, path: PathLike, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    def _target(self) -> Path:
        target = real_path(self.path)
        shown = f"{self.path} (-> {target})" if os.path.islink(self.path) else str(self.path)
        try:
            folder = os.stat(target.parent)
            here: Optional[os.stat_result] = os.stat(target)
        except FileNotFoundError:
            if not os.path.lexists(target.parent):
                raise FileError(f"the folder of psk_file {shown} does not exist: create it or choose another "
                                "psk_file") from None
            here = None
        except OSError as exc:
            raise FileError(f"cannot reach psk_file {shown}: {exc.strerror or exc}") from None
        if not stat.S_ISDIR(folder.st_mode):
            raise FileError(f"psk_file {shown}: {target.parent} is not a folder")
        if here is not None and stat.S_ISDIR(here.st_mode):
            raise FileError(f"psk_file {shown} is a folder: give the path of the file (e.g. {target}/psk_file.txt)")
        return target

    def _read(self, target: Path) -> bytes:
        try:
            return target.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise FileError(f"cannot read psk_file {self.path}: {exc.strerror or exc}") from None

    def lines(self) -> list[Line]:
        return parse(self._read(self._target()), self.path)

    def entries(self) -> dict[str, str]:
        """What the broker would load now: identity -> hex key."""
        return view(self.lines())

    def pending(self) -> dict[str, str]:
        """Keys of unfinished updates (a run stopped between marking and confirming): identity -> hex key."""
        return pending_of(self.lines())

    def check(self) -> None:
        """Everything an update needs, tried before any kit is touched: the folder exists and takes new
        files with this file's owner, group and mode, the lock can be taken, the file reads and parses."""
        target = self._target()
        parse(self._read(target), self.path)  # first without the lock: a refused file gets no lock file beside it
        with locked(target, self.lock_timeout):
            remove_stale_temps(target)
            parse(self._read(target), self.path)
            mode, group = new_file_mode(target.parent)
            probe_replace(target, mode, group=group)

    def _update(self, change: Change) -> None:
        target = self._target()
        with locked(target, self.lock_timeout):
            remove_stale_temps(target)
            lines = parse(self._read(target), self.path)
            newline = b"\r\n" if any(line.raw.endswith(b"\r\n") for line in lines) else b"\n"
            raws, want_view, want_pending = change(lines, newline)
            data = b"".join(_ended(raws, newline))
            after = parse(data, self.path)
            if view(after) != want_view or pending_of(after) != want_pending:
                raise FileError(f"updating {self.path} would change how Mosquitto reads other lines (a last line "
                                "without a line end?): end its last line with a line end and try again")
            mode, group = new_file_mode(target.parent)
            atomic_write(target, data, mode, group=group)

    def begin(self, identity: str, psk: str) -> None:
        """Record `psk` for `identity` as pending: the broker keeps using the current entry."""
        check_identity(identity)

        def change(lines: list[Line], newline: bytes) -> Edit:
            raws = [line.raw for line in lines if not (line.pending and line.identity == identity)]
            marker = PENDING + f"{identity}:{psk}".encode() + newline
            return _ended(raws, newline) + [marker], view(lines), {**pending_of(lines), identity: psk}

        self._update(change)

    def commit(self, identity: str, psk: str) -> None:
        """Make `psk` the entry of `identity` (in place of its first entry, dropping duplicates and the marker)."""
        check_identity(identity)

        def change(lines: list[Line], newline: bytes) -> Edit:
            entry = f"{identity}:{psk}".encode()
            has_entry = any(line.entry and line.identity == identity for line in lines)
            raws, placed = [], False
            for line in lines:
                mine = line.identity == identity and (line.entry or (line.pending and not has_entry))
                if mine and not placed:
                    raws.append(entry + _ending(line.raw, newline))
                    placed = True
                elif not mine and not (line.pending and line.identity == identity):
                    raws.append(line.raw)
            if not placed:
                raws = _ended(raws, newline) + [entry + newline]
            rest = {k: v for k, v in pending_of(lines).items() if k != identity}
            return raws, {**view(lines), identity: psk}, rest

        self._update(change)

    def abort(self, identity: str, psk: Optional[str] = None) -> None:
        """Drop the pending marker of `identity` (only if it still holds `psk`, when given)."""

        def change(lines: list[Line], newline: bytes) -> Edit:
            def gone(line: Line) -> bool:
                return line.pending and line.identity == identity and (psk is None or line.key == psk)

            return ([line.raw for line in lines if not gone(line)], view(lines),
                    pending_of([line for line in lines if not gone(line)]))

        self._update(change)


def read_psk_file(path: PathLike) -> dict[str, str]:
    """identity -> hex PSK as the broker loads them (a missing file: empty)."""
    return PskFile(path).entries()


def update_psk_file(path: PathLike, identity: str, psk: str) -> None:
    """Set `identity`'s key in one step (no pending stage), creating the file if needed."""
    PskFile(path).commit(identity, psk)
