"""Mosquitto `psk_file`s: one `identity:hexkey` per line.

Updated under an exclusive lock (parallel provisioning runs must not lose a line)
and replaced atomically with mode 0600 (it holds keys). Re-provisioning a device
replaces its line; other lines, comments and blank lines are kept as they were.
"""
from __future__ import annotations

from pathlib import Path

from .errors import ValidationError
from .files import PathLike, atomic_write, locked


def check_identity(identity: str) -> str:
    if not identity or ":" in identity or any(not 0x21 <= ord(c) <= 0x7E for c in identity) or '"' in identity:
        raise ValidationError(f"PSK identity {identity!r} cannot go in a Mosquitto psk_file: use printable "
                              "ASCII without spaces, ':' or '\"'")
    return identity


def read_psk_file(path: PathLike) -> dict[str, str]:
    """identity -> hex PSK for every entry in the file (missing file: empty)."""
    entries: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return entries
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            identity, key = line.split(":", 1)
            entries[identity] = key.strip()
    return entries


def update_psk_file(path: PathLike, identity: str, psk: str) -> None:
    """Set `identity`'s key in the file, creating it (0600) if needed."""
    check_identity(identity)
    target = Path(path)
    with locked(target):
        try:
            lines = target.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        entry = f"{identity}:{psk}"
        replaced = False
        for index, line in enumerate(lines):
            if not line.lstrip().startswith("#") and line.split(":", 1)[0] == identity:
                if not replaced:
                    lines[index] = entry
                    replaced = True
                else:
                    lines[index] = None  # a duplicate from a hand edit: keep one line per identity
        lines = [line for line in lines if line is not None]
        if not replaced:
            lines.append(entry)
        atomic_write(target, ("\n".join(lines) + "\n").encode("utf-8"), 0o600)
