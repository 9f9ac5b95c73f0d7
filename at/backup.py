"""Back up a kit: its readable credentials as files, and a manifest that describes every slot.

The firmware lets a host read root CA certificates (type 0) and PSK identities
(type 4); of everything else only the SHA-256 is known, so the manifest requires
that hash and a restore names those slots instead of writing them. Modem-owned
tags (above 2147483647) are left out: they belong to the modem, not to a manifest.
Everything is written 0600 and atomically; the manifest comes last, so a backup
that fails half-way leaves no manifest that claims to be complete.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import credentials
from .credentials import READABLE_TYPES, USER_SEC_TAG_MAX, WRITABLE_TYPES, CredType
from .errors import ATError, ValidationError
from .files import PathLike, atomic_write
from .manifest import KEY_OF_TYPE, Entry, Manifest, save
from .protocol import sha256_hex
from .soc import Credential, SoC

MANIFEST_NAME = "manifest.toml"
_SUFFIX = {CredType.ROOT_CA: ".pem", CredType.PSK_IDENTITY: ".txt"}


@dataclass
class Backup:
    """What a backup wrote, and which slots it could describe only by hash or not at all (`skipped`, with why)."""

    port: str
    imei: str
    manifest_path: Path
    manifest: Manifest
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Credential, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def hash_only(self) -> list[Entry]:
        """Slots a restore cannot write (keys, PSKs, client certificates): only their SHA-256 is known."""
        return [e for e in self.manifest.entries.values() if e.kind == "sha256"]


def _skip_reason(cred: Credential) -> str | None:
    if cred.sec_tag > USER_SEC_TAG_MAX:
        return "modem-owned sec_tag"
    if cred.cred_type not in WRITABLE_TYPES:
        return f"{credentials.type_name(cred.cred_type)} cannot be written with AT%CMNG"
    if cred.cred_type not in READABLE_TYPES and cred.sha256 is None:
        return "cannot be read and the firmware reports no SHA-256"
    return None


def _content_entry(soc: SoC, cred: Credential, directory: Path, result: Backup) -> Entry:
    kind = CredType(cred.cred_type)
    stored = soc.read_credential(cred.sec_tag, kind)
    sha = cred.sha256 or sha256_hex(stored)
    file = directory / f"{cred.sec_tag}-{KEY_OF_TYPE[kind]}{_SUFFIX[kind]}"
    atomic_write(file, stored.encode("utf-8"), 0o600)
    result.files.append(file)
    try:
        text = credentials.prepare_content(kind, stored)
    except ValidationError as exc:  # stored by another tool in a form this library would not write
        result.notes.append(f"sec_tag {cred.sec_tag} {KEY_OF_TYPE[kind]} is kept in {file.name} but described by "
                            f"SHA-256 only: {exc}")
        return Entry(cred.sec_tag, kind, "sha256", sha256=sha)
    if sha256_hex(text) != sha:
        result.notes.append(f"sec_tag {cred.sec_tag} {KEY_OF_TYPE[kind]} is stored in a non-canonical form (line "
                            "endings or trailing blanks); a restore writes the canonical form, whose SHA-256 differs")
    return Entry(cred.sec_tag, kind, "content", content=text, sha256=sha256_hex(text), path=file)


def backup(soc: SoC, directory: PathLike, *, name: str = MANIFEST_NAME) -> Backup:
    """Read the kit on `soc` into `directory` (created 0700 if new): content files and `name`, its manifest."""
    target = Path(directory)
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ATError(f"cannot create the backup folder {target}: {exc.strerror or exc}") from None
    if not os.access(target, os.W_OK):
        raise ATError(f"cannot write to the backup folder {target}: check its permissions")
    imei = soc.get_imei()
    source = {"imei": imei, "model": soc.get_model(), "firmware": soc.get_firmware_version(), "port": soc.port,
              "taken": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()}
    manifest = Manifest(source=source)
    result = Backup(soc.port, imei, target / name, manifest)
    try:
        for cred in soc.list_credentials():
            reason = _skip_reason(cred)
            if reason:
                result.skipped.append((cred, reason))
                continue
            kind = CredType(cred.cred_type)
            if kind in READABLE_TYPES:
                entry = _content_entry(soc, cred, target, result)
            else:
                entry = Entry(cred.sec_tag, kind, "sha256", sha256=cred.sha256)
            manifest.entries[entry.slot] = entry
        save(manifest, result.manifest_path)
    except OSError as exc:
        raise ATError(f"cannot write the backup in {target}: {exc.strerror or exc}") from None
    return result
