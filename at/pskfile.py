"""Mosquitto's `psk_file`, changed without disturbing anything the broker reads.

How the broker reads the file lives in `psk_format` (pure); this module is the file itself.
cmng's own marker is a comment line `#cmng-pending <identity>:<key>`: a key about to be written
to a kit, which the broker ignores until `commit` turns it into the entry (see psk.py).
Every change is made under the file's lock, re-reads the file, keeps every other line byte for
byte, checks that the broker's view changes exactly as intended, and replaces the file atomically.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from .files import FileError, PathLike, atomic_write, locked, probe_replace, real_path, remove_stale_temps
from .psk_format import (  # noqa: F401  (check_identity*, parse, view: re-exported for callers of pskfile)
    PENDING,
    Line,
    check_identity,
    check_identity_prefix,
    parse,
    pending_of,
    view,
)

BROKER_GROUP = "mosquitto"
LOCK_TIMEOUT = 60.0


def new_file_mode(folder: Path) -> tuple[int, int | None]:
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
            here: os.stat_result | None = os.stat(target)
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
        self.begin_all({identity: psk})

    def commit(self, identity: str, psk: str) -> None:
        """Make `psk` the entry of `identity` (in place of its first entry, dropping duplicates and the marker)."""
        self.settle_all(keep={identity: psk})

    def abort(self, identity: str, psk: str | None = None) -> None:
        """Drop the pending marker of `identity` (only if it still holds `psk`, when given)."""
        self.settle_all(drop={identity: psk})

    def begin_all(self, keys: dict[str, str]) -> None:
        """`begin` for several identities (identity -> new key) in one rewrite of the file."""
        for identity in keys:
            check_identity(identity)

        def change(lines: list[Line], newline: bytes) -> Edit:
            raws = [line.raw for line in lines if not (line.pending and line.identity in keys)]
            markers = [PENDING + f"{identity}:{psk}".encode() + newline for identity, psk in keys.items()]
            return _ended(raws, newline) + markers, view(lines), {**pending_of(lines), **keys}

        if keys:
            self._update(change)

    def settle_all(self, keep: dict[str, str] | None = None, drop: dict[str, str | None] | None = None
                   ) -> None:
        """In one rewrite: `commit` every identity -> key of `keep`, `abort` every identity -> key of `drop`."""
        keep, drop = keep or {}, drop or {}
        for identity in keep:
            check_identity(identity)

        def gone(line: Line) -> bool:
            return line.pending and line.identity in drop and drop[line.identity] in (None, line.key)

        def change(all_lines: list[Line], newline: bytes) -> Edit:
            lines = [line for line in all_lines if not gone(line)]
            with_entry = {line.identity for line in lines if line.entry and line.identity in keep}
            raws: list[bytes] = []
            placed: set[str] = set()
            for line in lines:
                identity = line.identity
                if identity in keep:
                    mine = line.entry or (line.pending and identity not in with_entry)
                    if mine and identity not in placed:  # the first entry (or the marker) becomes the new entry
                        raws.append(f"{identity}:{keep[identity]}".encode() + _ending(line.raw, newline))
                        placed.add(identity)
                        continue
                    if mine or line.pending:  # later duplicates and the marker go
                        continue
                raws.append(line.raw)
            missing = [f"{identity}:{psk}".encode() + newline for identity, psk in keep.items() if identity not in placed]
            if missing:
                raws = _ended(raws, newline) + missing
            rest = {k: v for k, v in pending_of(lines).items() if k not in keep}
            return raws, {**view(lines), **keep}, rest

        if keep or drop:
            self._update(change)


def read_psk_file(path: PathLike) -> dict[str, str]:
    """identity -> hex PSK as the broker loads them (a missing file: empty)."""
    return PskFile(path).entries()


def update_psk_file(path: PathLike, identity: str, psk: str) -> None:
    """Set `identity`'s key in one step (no pending stage), creating the file if needed."""
    PskFile(path).commit(identity, psk)
