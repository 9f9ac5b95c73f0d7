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
next run on that kit settles. `provision_ports` takes its kits through these steps together: one
rewrite of the file marks every kit's key pending, one after the writes settles them all.
"""
from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from . import protocol
from .credentials import CRED_TYPE_PSK, CRED_TYPE_PSK_IDENTITY, check_sec_tag, prepare_content
from .errors import ATError, ATTimeoutError, CMEError, PortError, ValidationError
from .files import FileError, PathLike
from .lazylog import getLogger
from .pskfile import PskFile, check_identity, check_identity_prefix
from .soc import CFUN_INACTIVE_MODES, SoC

log = getLogger(__name__)

DEFAULT_SEC_TAG = 1234
DEFAULT_PSK_FILE = "psk_file.txt"
DEFAULT_IDENTITY_PREFIX = "nrf-"
DEFAULT_PSK_BYTES = 16
CME_NOT_FOUND = 513


@dataclass
class Provisioned:
    """The outcome for one kit. `psk` is only for callers that asked to see it.

    `settled` tells what became of an unfinished update left by an earlier run ("kept": the kit
    held it and it became the entry; "dropped": it did not), None when there was none. `warning`
    says what a failed kit left in the psk_file (also on the error, as its `pending_note`).
    """

    port: str
    sec_tag: int
    imei: str | None = None
    identity: str | None = None
    psk: str | None = None
    error: BaseException | None = None
    settled: str | None = None
    warning: str | None = None  # what a failure left behind (a pending line), for the caller to show

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:  # never show the PSK by accident
        state = "ok" if self.ok else f"failed: {self.error}"
        return f"Provisioned(port={self.port!r}, identity={self.identity!r}, {state})"


def check_options(sec_tag: int, identity_prefix: str, psk_bytes: int, psk_file: PathLike | None = None) -> None:
    """Refuse what cannot work before any kit is touched; with `psk_file`, check that file too."""
    check_sec_tag(sec_tag, writing=True)
    check_identity_prefix(identity_prefix)
    if not 1 <= psk_bytes <= 64:
        raise ValidationError(f"a PSK of {psk_bytes} bytes is not possible: use 1 to 64 (16 is usual)")
    if psk_file is not None:
        PskFile(psk_file).check()


def kit_holds(soc: SoC, sec_tag: int, identity: str, psk: str) -> bool | None:
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


def settle(soc: SoC, book: PskFile, sec_tag: int, identity: str, *, drop_unknown: bool = True,
           pending_keys: dict[str, str] | None = None) -> str | None:
    """Finish or undo `identity`'s pending update from what the kit holds; returns "kept", "dropped" or None.

    `pending_keys`: `book.pending()` when the caller has read it already (a batch reads it once for all kits).
    """
    pending = (book.pending() if pending_keys is None else pending_keys).get(identity)
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
                  on_offline: Callable[[int], None] | None = None, checked: bool = False) -> Provisioned:
    """Give the kit on `soc` a new PSK and identity `<prefix><IMEI>` and record them in `psk_file`.

    The modem is taken offline for the writes if it is active, and put back after. `checked=True`
    skips the psk_file check when the caller already made it.
    """
    check_options(sec_tag, identity_prefix, psk_bytes, None if checked else psk_file)
    book = PskFile(psk_file)
    result = _identify(soc, book, sec_tag, identity_prefix)
    psk = secrets.token_hex(psk_bytes)
    book.begin(result.identity, psk)  # type: ignore[arg-type]
    try:
        _write(soc, sec_tag, result.identity, psk, on_offline)  # type: ignore[arg-type]
    except ATError as exc:
        holds = _holds_after_failure(soc, sec_tag, result.identity, psk, exc)  # type: ignore[arg-type]
        if holds is not None:
            book.settle_all(keep={result.identity: psk} if holds else None,  # type: ignore[dict-item]
                            drop=None if holds else {result.identity: psk})  # type: ignore[dict-item]
        raise
    try:
        book.commit(result.identity, psk)  # type: ignore[arg-type]
    except FileError as exc:
        raise _unrecorded(exc) from None
    result.psk = psk
    return result


def _identify(soc: SoC, book: PskFile, sec_tag: int, identity_prefix: str,
              pending_keys: dict[str, str] | None = None) -> Provisioned:
    """The kit's IMEI and identity; an earlier run's pending update for it settled first."""
    result = Provisioned(port=soc.port, sec_tag=sec_tag)
    result.imei = soc.get_imei()
    result.identity = check_identity(identity_prefix + result.imei)
    result.settled = settle(soc, book, sec_tag, result.identity, pending_keys=pending_keys)
    if result.settled:
        log.info("%s: an earlier run's pending PSK for %s was %s", soc.port, result.identity, result.settled)
    return result


def _write(soc: SoC, sec_tag: int, identity: str, psk: str, on_offline: Callable[[int], None] | None) -> None:
    with soc.offline() as before:
        if on_offline and before not in CFUN_INACTIVE_MODES:
            on_offline(before)
        soc.write_credential(sec_tag, CRED_TYPE_PSK_IDENTITY, identity)
        soc.write_credential(sec_tag, CRED_TYPE_PSK, psk)


def _holds_after_failure(soc: SoC, sec_tag: int, identity: str, psk: str, exc: ATError) -> bool | None:
    """After a failed write: does the kit hold the new key? None: the pending line waits for the next run.

    The modem refused or answered oddly: ask it what it holds. After a lost link or a
    timeout, asking would only wait again.
    """
    holds = None
    if not isinstance(exc, (ATTimeoutError, PortError)):
        try:
            holds = kit_holds(soc, sec_tag, identity, psk)
        except ATError as err:
            log.debug("could not settle %s after a failure: %s", identity, err)
    if holds is None:  # told to the caller, on the error and in the kit's result
        exc.pending_note = f"the psk_file keeps a pending line for {identity}; the next run on this kit settles it"  # type: ignore[attr-defined]
    return holds


def _unrecorded(exc: FileError) -> FileError:
    return FileError(f"{exc} (the kit holds its new PSK, which the psk_file keeps as a pending line: the next "
                     "run on this kit records it)")


def provision_ports(ports: list[str], *, open_soc: Callable[[str], SoC], sec_tag: int = DEFAULT_SEC_TAG,
                    psk_file: PathLike = DEFAULT_PSK_FILE, identity_prefix: str = DEFAULT_IDENTITY_PREFIX,
                    psk_bytes: int = DEFAULT_PSK_BYTES, on_offline: Callable[[str, int], None] | None = None,
                    on_done: Callable[[Provisioned], None] | None = None, checked: bool = False
                    ) -> list[Provisioned]:
    """Provision several kits at once; each gets its own result, one failure stops none of the others.

    The psk_file is checked once first: if it cannot be used, `FileError` (a `ValidationError`)
    is raised and no kit is opened. Then it is rewritten twice for the whole batch, with the
    same guarantees as for one kit: once to mark every kit's new key pending (after every kit
    said its IMEI), and once, after the writes, to make the keys of the kits that took them
    entries and drop the pending lines of those that refused them (a kit that cannot tell
    keeps its pending line for the next run). `on_done(result)` is called as each kit is through
    with its writes, or has failed (its psk_file entry follows with the batch).
    """
    check_options(sec_tag, identity_prefix, psk_bytes, None if checked else psk_file)
    book = PskFile(psk_file)
    results = [Provisioned(port=port, sec_tag=sec_tag) for port in ports]
    socs: dict[int, SoC] = {}
    keys: dict[int, str] = {}
    holds: dict[int, bool | None] = {}
    owner: dict[str, str] = {}  # identity -> port, so two ports that are one kit cannot share a pending line
    pending_keys = book.pending()  # what earlier runs left unsettled, read once for the batch

    def close(index: int) -> None:
        soc = socs.pop(index, None)
        if soc is not None:
            soc.close()

    def report_failure(index: int) -> None:
        if on_done is not None:
            on_done(results[index])

    def identify(index: int) -> None:
        socs[index] = soc = open_soc(ports[index])
        try:
            found = _identify(soc, book, sec_tag, identity_prefix, pending_keys)
            results[index].imei, results[index].identity = found.imei, found.identity
            results[index].settled = found.settled
            if owner.setdefault(found.identity, ports[index]) != ports[index]:  # type: ignore[arg-type]
                raise ValidationError(f"{ports[index]} reports the IMEI of {owner[found.identity]}: "  # type: ignore[index]
                                      "the same kit, provisioned once per run")
            keys[index] = secrets.token_hex(psk_bytes)
        except BaseException:
            close(index)
            raise

    def write(index: int) -> None:
        soc, result = socs[index], results[index]
        try:
            _write(soc, sec_tag, result.identity, keys[index],  # type: ignore[arg-type]
                   lambda mode: on_offline(result.port, mode) if on_offline else None)
        except ATError as exc:
            holds[index] = _holds_after_failure(soc, sec_tag, result.identity, keys[index], exc)  # type: ignore[arg-type]
            raise
        finally:
            close(index)

    # Each kit's port is closed by the thread that uses it (a Ctrl-C leaves running kits to their threads,
    # as `SoC.offline` expects); between the phases no thread runs, so the main thread may close them.
    written = _each(results, list(range(len(ports))), identify, on_error=report_failure)
    try:
        book.begin_all({results[i].identity: keys[i] for i in written})  # type: ignore[misc]
    except BaseException as exc:
        for i in written:
            close(i)
        if not isinstance(exc, FileError):
            raise
        for i in written:
            results[i].error = exc
        written = []
    done = _each(results, written, write, on_done=on_done)
    refused = [i for i in written if i not in done]
    try:
        book.settle_all(keep={results[i].identity: keys[i] for i in written if i in done or holds.get(i)},
                        drop={results[i].identity: keys[i] for i in refused if holds.get(i) is False})  # type: ignore[misc]
    except FileError as exc:
        for i in done:
            results[i].error = _unrecorded(exc)
    for i in done:
        if results[i].ok:
            results[i].psk = keys[i]
    return results


def _each(results: list[Provisioned], indexes: list[int], job: Callable[[int], None], *,
          on_error: Callable[[int], None] | None = None,
          on_done: Callable[[Provisioned], None] | None = None) -> list[int]:
    """`job(index)` for every index, all at once (a thread each: kits are independent); the indexes that
    succeeded. A failure is kept in its kit's result and stops none of the others."""
    def one(index: int) -> None:
        try:
            job(index)
        except Exception as exc:  # reported per kit, never raised past the others
            results[index].error = exc
            results[index].warning = getattr(exc, "pending_note", None)
            if on_error is not None:
                on_error(index)
        if on_done is not None:
            on_done(results[index])

    if len(indexes) == 1:
        one(indexes[0])
    else:
        threads = [threading.Thread(target=one, args=(i,), name=f"psk-{results[i].port}", daemon=True)
                   for i in indexes]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # joins with a timeout keep Ctrl-C working
    return [i for i in indexes if results[i].ok]
