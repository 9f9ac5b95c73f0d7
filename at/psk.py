"""PSK provisioning: one random PSK per kit, its identity `<prefix><IMEI>`, recorded in Mosquitto's psk_file.

Order of work, so that a crash at any point loses no key and locks no kit out for good:
1. before any kit is touched, the psk_file is checked: its folder exists and takes a replacement
   with the file's owner, group and mode, the lock can be taken, the file reads and parses as
   Mosquitto reads it (`PskFile.check`);
2. per kit: a pending marker left by an earlier run that stopped half way is settled from what
   the kit reports (its identity and the SHA-256 of its PSK): kept as the entry if the kit holds
   that key, dropped if not;
3. the new PSK is recorded as pending (a comment line the broker ignores: it keeps the old entry),
   then written to the kit and verified by SHA-256, then the pending line becomes the entry.
A crash leaves the old PSK in both, the new PSK in both, or a pending line that step 2 of the
next run on that kit settles.
"""
from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

from . import protocol
from .credentials import CRED_TYPE_PSK, CRED_TYPE_PSK_IDENTITY, check_sec_tag, prepare_content
from .errors import ATError, ATTimeoutError, CMEError, PortError, ValidationError
from .files import FileError, PathLike
from .pskfile import PskFile, check_identity, check_identity_prefix
from .soc import CFUN_INACTIVE_MODES, SoC

log = logging.getLogger(__name__)

DEFAULT_SEC_TAG = 1234
DEFAULT_PSK_FILE = "psk_file.txt"
DEFAULT_IDENTITY_PREFIX = "nrf-"
DEFAULT_PSK_BYTES = 16
CME_NOT_FOUND = 513


@dataclass
class Provisioned:
    """The outcome for one kit. `psk` is only for callers that asked to see it.

    `settled` tells what became of an unfinished update left by an earlier run ("kept": the kit
    held it and it became the entry; "dropped": it did not), None when there was none.
    """

    port: str
    sec_tag: int
    imei: Optional[str] = None
    identity: Optional[str] = None
    psk: Optional[str] = None
    error: Optional[BaseException] = None
    settled: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:  # never show the PSK by accident
        state = "ok" if self.ok else f"failed: {self.error}"
        return f"Provisioned(port={self.port!r}, identity={self.identity!r}, {state})"


def check_options(sec_tag: int, identity_prefix: str, psk_bytes: int, psk_file: Optional[PathLike] = None) -> None:
    """Refuse what cannot work before any kit is touched; with `psk_file`, check that file too."""
    check_sec_tag(sec_tag, writing=True)
    check_identity_prefix(identity_prefix)
    if not 1 <= psk_bytes <= 64:
        raise ValidationError(f"a PSK of {psk_bytes} bytes is not possible: use 1 to 64 (16 is usual)")
    if psk_file is not None:
        PskFile(psk_file).check()


def kit_holds(soc: SoC, sec_tag: int, identity: str, psk: str) -> Optional[bool]:
    """Whether the kit holds `identity` and `psk` at `sec_tag`; None if it cannot tell (all-zero SHA firmware)."""
    try:
        if soc.read_credential(sec_tag, CRED_TYPE_PSK_IDENTITY) != identity:
            return False
    except CMEError as exc:
        if exc.code == CME_NOT_FOUND:
            return False
        raise
    listed = soc.list_credentials(sec_tag, CRED_TYPE_PSK)
    if not listed:
        return False
    if listed[0].sha256 is None:
        return None
    return listed[0].sha256 == protocol.sha256_hex(prepare_content(CRED_TYPE_PSK, psk))


def settle(soc: SoC, book: PskFile, sec_tag: int, identity: str, *, drop_unknown: bool = True) -> Optional[str]:
    """Finish or undo `identity`'s pending update from what the kit holds; returns "kept", "dropped" or None."""
    pending = book.pending().get(identity)
    if pending is None:
        return None
    holds = kit_holds(soc, sec_tag, identity, pending)
    if holds:
        book.commit(identity, pending)
        return "kept"
    if holds is None and not drop_unknown:
        return None
    book.abort(identity, pending)
    return "dropped"


def provision_psk(soc: SoC, *, sec_tag: int = DEFAULT_SEC_TAG, psk_file: PathLike = DEFAULT_PSK_FILE,
                  identity_prefix: str = DEFAULT_IDENTITY_PREFIX, psk_bytes: int = DEFAULT_PSK_BYTES,
                  on_offline: Optional[Callable[[int], None]] = None, checked: bool = False) -> Provisioned:
    """Give the kit on `soc` a new PSK and identity `<prefix><IMEI>` and record them in `psk_file`.

    The modem is taken offline for the writes if it is active, and put back after. `checked=True`
    skips the psk_file check when the caller already made it (as `provision_ports` does).
    """
    check_options(sec_tag, identity_prefix, psk_bytes, None if checked else psk_file)
    book = PskFile(psk_file)
    result = Provisioned(port=soc.port, sec_tag=sec_tag)
    result.imei = soc.get_imei()
    result.identity = check_identity(identity_prefix + result.imei)
    result.settled = settle(soc, book, sec_tag, result.identity)
    if result.settled:
        log.info("%s: an earlier run's pending PSK for %s was %s", soc.port, result.identity, result.settled)
    psk = secrets.token_hex(psk_bytes)
    book.begin(result.identity, psk)
    try:
        with soc.offline() as before:
            if on_offline and before not in CFUN_INACTIVE_MODES:
                on_offline(before)
            soc.write_credential(sec_tag, CRED_TYPE_PSK_IDENTITY, result.identity)
            soc.write_credential(sec_tag, CRED_TYPE_PSK, psk)
    except ATError as exc:
        # The modem refused or answered oddly: ask it what it holds and settle now. After a lost
        # link or a timeout, asking would only wait again: the pending line waits for the next run.
        if isinstance(exc, (ATTimeoutError, PortError)) or not _settle_quietly(soc, book, sec_tag, result.identity):
            log.warning("%s: the psk_file keeps a pending line for %s; the next run on this kit settles it",
                        soc.port, result.identity)
        raise
    try:
        book.commit(result.identity, psk)
    except FileError as exc:
        raise FileError(f"{exc} (the kit holds its new PSK, which the psk_file keeps as a pending line: the next "
                        "run on this kit records it)") from None
    result.psk = psk
    return result


def _settle_quietly(soc: SoC, book: PskFile, sec_tag: int, identity: str) -> bool:
    try:
        return settle(soc, book, sec_tag, identity, drop_unknown=False) is not None
    except ATError as exc:
        log.debug("could not settle %s after a failure: %s", identity, exc)
        return False


def provision_ports(ports: list[str], *, open_soc: Callable[[str], SoC], **options: object) -> list[Provisioned]:
    """Provision several kits in parallel; each gets its own result, one failure stops none of the others.

    The psk_file is checked once first: if it cannot be used, `FileError` (a `ValidationError`)
    is raised and no kit is opened.
    """
    PskFile(options.get("psk_file", DEFAULT_PSK_FILE)).check()  # type: ignore[arg-type]

    def one(port: str) -> Provisioned:
        try:
            with open_soc(port) as soc:
                return provision_psk(soc, checked=True, **options)  # type: ignore[arg-type]
        except Exception as exc:  # reported per kit, never raised past the others
            return Provisioned(port=port, sec_tag=int(options.get("sec_tag", DEFAULT_SEC_TAG)), error=exc)

    if len(ports) == 1:
        return [one(ports[0])]
    with ThreadPoolExecutor(max_workers=min(len(ports), 16)) as pool:
        return list(pool.map(one, ports))
