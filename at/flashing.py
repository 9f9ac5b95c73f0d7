"""The at_client round trip: flash at_client, work over AT, put the user's application back.

The application hex is flashed whenever this run flashed at_client, also when the
credential work failed or was interrupted, so no kit is left running at_client by
accident. Waiting for the new firmware polls `AT`; it never sleeps a fixed time.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from . import firmware, ports
from .errors import FirmwareError, FlashError
from .programmer import Programmer, Progress, check_hex, choose_probe, select_programmer

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")
HEX_README = "hex/README.md"
BOOT_TIMEOUT = 20.0
POLL_INTERVAL = 0.5
THINGY_BOARDS = {"Thingy:91": "thingy91", "Thingy:91 X": "thingy91x"}  # kit name (USB) -> manifest board


class AtClientUnavailable(FirmwareError):
    """No verified at_client for the probe's board: not cached and not fetchable, unpublished, or unknown board.

    `board` is the manifest's name for it (None when the serial number does not tell), so a front end
    can say how to fetch it from elsewhere or which self-built file to give instead.
    """

    def __init__(self, message: str, board: str | None = None) -> None:
        super().__init__(message)
        self.board = board


def at_client_for_probe(serial_number: str, *, board: str | None = None,
                        manifest: firmware.Manifest | None = None, cache: Path | None = None,
                        progress: Progress | None = None,
                        notify: Callable[[str], None] = lambda message: None) -> Path:
    """The verified at_client hex for `board`, else for the DK that J-Link `serial_number` belongs to:
    the cached file, else fetched (and verified) into the cache."""
    kit, by_serial = ports.board_for_serial(serial_number)
    if board is None:
        board = by_serial
    else:
        kit = next((name for name, known in THINGY_BOARDS.items() if known == board), board)
    if board is None:
        raise AtClientUnavailable(f"J-Link {serial_number} is not an nRF91 DK's on-board probe, so its board is "
                                  f"unknown: give the at_client hex for the board ({firmware.SELF_BUILD_KCONFIG})")
    manifest = manifest or firmware.load_manifest()
    try:
        image = manifest.image(board)
    except firmware.NoBuildError as exc:
        raise AtClientUnavailable(str(exc), board) from None
    path = firmware.cached(image, cache)
    if path is None:
        notify(f"fetching Nordic's at_client build for the {kit} ({image.file})")

        def fetched(name: str, done: int, total: int) -> None:
            if progress:
                progress(f"fetching {name}", 100.0 * done / total if total else None)

        try:
            path = firmware.fetch(image, directory=cache, progress=fetched)
        except (firmware.DiskFullError, firmware.CacheError):
            raise
        except FirmwareError as exc:
            raise AtClientUnavailable(f"no verified at_client for the {kit} in the cache, and fetching it failed: "
                                      f"{exc}", board) from None
        notify(f"{image.file}: sha256 verified, kept in {path.parent}; license: {manifest.license_note}")
    return check_hex(os.fspath(path))


def wait_for_at(port: str, timeout: float = BOOT_TIMEOUT, interval: float = POLL_INTERVAL,
                clock: Callable[[], float] = time.monotonic) -> None:
    """Poll `AT` until the firmware answers OK (the port may vanish and come back meanwhile)."""
    deadline = clock() + timeout
    last = "no answer"
    while clock() < deadline:
        started = clock()
        answered, note = ports.probe_port(port, timeout=interval)
        if answered:
            return
        last = note
        # the port may be re-enumerating: wait out the rest of the poll interval
        remaining = interval - (clock() - started)
        if remaining > 0:
            time.sleep(remaining)
    raise FlashError(f"the kit did not answer AT within {timeout:.0f} s after flashing at_client ({last}): "
                     "check SERIAL_PORT is the kit's AT port")


def run_with_firmware(work: Callable[[], T], *, port: str, program_hex: bool, app_hex: str | None,
                      programmer: str = "auto", serial_number: str | None = None,
                      at_client_hex: str | None = None, progress: Progress | None = None,
                      notify: Callable[[str], None] = lambda message: None,
                      boot_timeout: float = BOOT_TIMEOUT, manifest: firmware.Manifest | None = None,
                      cache: Path | None = None) -> T:
    """Run `work` between flashing at_client (`program_hex`) and flashing the user's application (`app_hex`).

    The probe is found before anything is fetched; the at_client image is `at_client_hex`, else the
    verified published build for the probe's board (fetched into `cache` when missing)."""
    if not program_hex and not app_hex:
        return work()
    # Everything that can be checked is checked before the kit is touched.
    kit = ports.find_kit_for_port(port)
    board = None
    if kit is not None and not kit.has_jlink:
        if serial_number is None:  # an external probe on its SWD connector must be named
            raise FlashError(f"{kit.name} has no J-Link on board: name an external debug probe on its SWD connector, "
                             "or flash at_client with nrfutil's MCUboot path ('nrfutil device program --traits mcuboot ...') "
                             "and work on it without flashing")
        board = THINGY_BOARDS.get(kit.name)
    if app_hex:
        check_hex(app_hex)
    if at_client_hex:
        check_hex(at_client_hex)
    backend: Programmer = select_programmer(programmer)
    notify(f"flashing with {backend.name}")
    hint = serial_number if serial_number is not None else (kit.serial_number if kit else None)
    probe = choose_probe(backend.probes(), hint)
    flashed_at_client = False
    if program_hex:
        image = Path(at_client_hex) if at_client_hex else at_client_for_probe(
            probe, board=board, manifest=manifest, cache=cache, progress=progress, notify=notify)
        notify(f"flashing at_client ({image.name}) to probe {probe}")
        backend.program(os.fspath(image), probe, progress=progress)
        flashed_at_client = True
        wait_for_at(port, timeout=boot_timeout)
    try:
        result = work()
    except BaseException:
        if app_hex and flashed_at_client:
            try:
                notify(f"flashing the application {app_hex} back after the failure")
                backend.program(app_hex, probe, progress=progress)
            except (FlashError, KeyboardInterrupt) as flash_failure:
                notify(f"flashing the application back failed too: {flash_failure}")
        raise
    if app_hex:
        notify(f"flashing the application {app_hex}")
        backend.program(app_hex, probe, progress=progress)
    return result
