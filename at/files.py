"""Files that may hold secrets: replaced whole or not at all, keeping the owner, group and mode they had.

`atomic_write` follows a symlink and replaces its target. The data goes to a temp file in the
target's folder that is 0600 from birth (on Linux unnamed, O_TMPFILE, until the moment it is
renamed, so a killed process leaves no named copy behind), is flushed to disk, takes the old
file's owner, group and permission bits (or `mode` for a new file) and is renamed over the
target. POSIX ACLs and other extended attributes are not copied.

`locked` is an exclusive lock between threads and processes (the `filelock` package: flock on
Unix, LockFileEx on Windows), held on `.<name>.lock` beside the target: the target itself is
replaced, so it cannot carry the lock. Callers holding the lock may `remove_stale_temps`: no live
writer of that file can own one then.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import filelock

from .errors import ValidationError

PathLike = str | os.PathLike
TEMP_SUFFIX = ".tmp"


class FileError(ValidationError):
    """A file cannot be read, written, locked or replaced as asked; it was left as it was."""


def real_path(path: PathLike) -> Path:
    """`path` with every symlink followed (also when the final target does not exist yet)."""
    return Path(os.path.realpath(os.fspath(path)))


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def stale_temps(path: PathLike) -> list[Path]:
    """Temp files of `path`'s writers left in its folder (by a process that was killed)."""
    target = real_path(path)
    prefix = _temp_prefix(target)
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return [target.parent / n for n in names if n.startswith(prefix) and n.endswith(TEMP_SUFFIX)]


def remove_stale_temps(path: PathLike) -> int:
    """Delete `stale_temps(path)`; call only while holding `locked(path)`. Returns how many went."""
    removed = 0
    for temp in stale_temps(path):
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
            removed += 1
    return removed


def _open_temp(directory: Path, prefix: str) -> tuple[int, str | None]:
    """A new 0600 file in `directory`: (fd, None) when unnamed (O_TMPFILE), else (fd, its path)."""
    if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
        try:
            return os.open(directory, os.O_TMPFILE | os.O_WRONLY, 0o600), None
        except OSError as exc:  # a filesystem without O_TMPFILE: fall back to a named temp file
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=directory)
    return fd, name


def _name_temp(fd: int, directory: Path, prefix: str) -> str:
    """Give an unnamed temp file a name in `directory` (just before it is renamed over the target)."""
    dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        while True:
            name = f"{prefix}{secrets.token_hex(6)}{TEMP_SUFFIX}"
            try:  # linkat(2) with AT_SYMLINK_FOLLOW: the documented way to name an O_TMPFILE file
                os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
                return str(directory / name)
            except FileExistsError:
                continue
    finally:
        os.close(dir_fd)


def _owner_text(uid: int, gid: int) -> str:
    try:
        import grp
        import pwd

        return f"owner {pwd.getpwuid(uid).pw_name} group {grp.getgrgid(gid).gr_name}"
    except (ImportError, KeyError):
        return f"owner uid {uid} group gid {gid}"


def _set_attributes(fd: int, target: Path, old: os.stat_result | None, mode: int, group: int | None) -> None:
    """Give the temp file the old file's owner, group and mode, or `mode` (and `group`) for a new file."""
    if os.name == "nt" or not hasattr(os, "fchmod"):  # Windows: a new file inherits its folder's ACL
        return
    uid, gid, perm = (old.st_uid, old.st_gid, stat.S_IMODE(old.st_mode)) if old else (-1, -1 if group is None else group,
                                                                                     mode)
    now = os.fstat(fd)
    change_uid = uid if uid not in (-1, now.st_uid) else -1
    change_gid = gid if gid not in (-1, now.st_gid) else -1
    if change_uid != -1 or change_gid != -1:
        try:
            os.fchown(fd, change_uid, change_gid)
        except PermissionError:
            wanted = _owner_text(uid if uid != -1 else now.st_uid, gid if gid != -1 else now.st_gid)
            raise FileError(f"cannot give the replacement of {target} its {wanted}: run as root, or as that owner "
                            "and a member of that group") from None
    os.fchmod(fd, perm)  # after fchown, which may clear set-id bits


@contextlib.contextmanager
def _prepared_temp(target: Path, data: bytes, mode: int, group: int | None) -> Iterator[tuple[int, str | None]]:
    """A temp file beside `target` holding `data` (on disk) with the attributes the target will have.

    Closed and, if named, removed on every way out (a no-op once the caller renamed it).
    """
    directory = target.parent
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise FileError(f"cannot look at {target}: {_reason(exc)}") from None
    if old is not None and not stat.S_ISREG(old.st_mode):
        kind = "a folder" if stat.S_ISDIR(old.st_mode) else "not a regular file"
        raise FileError(f"{target} is {kind}: give the path of a file")
    try:
        fd, name = _open_temp(directory, _temp_prefix(target))
    except OSError as exc:
        raise FileError(f"cannot create a file in the folder {directory}: {_reason(exc)}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        _set_attributes(fd, target, old, mode, group)
        yield fd, name
    except OSError as exc:
        raise FileError(f"cannot write {target}: {_reason(exc)}") from None
    finally:
        os.close(fd)
        if name is not None:  # gone already if the caller renamed it
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)


def atomic_write(path: PathLike, data: bytes, mode: int = 0o600, *, group: int | None = None) -> None:
    """Replace the file at `path` (its target, if a symlink) with `data`, all or nothing.

    An existing file keeps its owner, group and permission bits; a new one gets `mode` and, if
    given, `group`. Raises `FileError` (nothing changed) when that is not possible.
    """
    target = real_path(path)
    temp: str | None = None
    with _prepared_temp(target, data, mode, group) as (fd, name):
        try:
            temp = name if name is not None else _name_temp(fd, target.parent, _temp_prefix(target))
            os.replace(temp, target)
        except BaseException:
            if temp is not None and name is None:  # named by us: the context removes only its own name
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
            raise
    _fsync_folder(target.parent)


def probe_replace(path: PathLike, mode: int = 0o600, *, group: int | None = None) -> None:
    """Check, without changing it, that `atomic_write(path, ..., mode, group=group)` can work.

    Creates (and removes) a temp file with the attributes the replacement would have.
    """
    target = real_path(path)
    folder = target.parent
    with _prepared_temp(target, b"", mode, group):
        pass
    try:
        old = os.stat(target)
        here = os.stat(folder)
    except FileNotFoundError:
        return
    euid = os.geteuid() if hasattr(os, "geteuid") else 0
    if here.st_mode & stat.S_ISVTX and euid not in (0, old.st_uid, here.st_uid):
        raise FileError(f"cannot replace {target}: its folder is sticky and the file is not yours; run as its owner")


def _fsync_folder(directory: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles for this)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def lock_path(path: PathLike) -> Path:
    target = real_path(path)
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def locked(path: PathLike, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` between threads and processes; wait at most `timeout` seconds (None: no limit)."""
    where = lock_path(path)
    lock = filelock.FileLock(str(where), timeout=-1 if timeout is None else timeout, mode=0o600)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise FileError(f"{real_path(path)} stayed locked by another process for {timeout:.0f} s ({where}): "
                        "is another run stuck? It unlocks when that process ends") from None
    except OSError as exc:
        raise FileError(f"cannot lock {real_path(path)}: cannot create {where.name} in the folder {where.parent}: "
                        f"{_reason(exc)}") from None
    try:
        yield
    finally:
        lock.release()
