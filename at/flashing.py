"""The at_client round trip: flash at_client, work over AT, put the user's application back.

The application hex is flashed whenever this run flashed at_client, also when the
credential work failed or was interrupted, so no kit is left running at_client by
accident. Waiting for the new firmware polls `AT`; it never sleeps a fixed time.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Optional, TypeVar

from . import ports
from .errors import FlashError
from .programmer import Programmer, Progress, check_hex, choose_probe, select_programmer

T = TypeVar("T")
HEX_README = "hex/README.md"
BOOT_TIMEOUT = 20.0
POLL_INTERVAL = 0.5


def hex_dirs() -> list[Path]:
    """Where at_client hex files are looked for: $NRF91_AT_HEX_DIR, the checkout's hex/, ./hex."""
    dirs = []
    if os.environ.get("NRF91_AT_HEX_DIR"):
        dirs.append(Path(os.environ["NRF91_AT_HEX_DIR"]))
    dirs.append(Path(__file__).resolve().parent.parent / "hex")
    dirs.append(Path.cwd() / "hex")
    return dirs


def find_at_client_hex(board: Optional[str]) -> Path:
    if board is None:
        raise FlashError("cannot tell which board this probe belongs to: name the at_client hex with "
                         f"--at_client_hex PATH (build it as {HEX_README} explains)")
    name = f"at_client_{board}.hex"
    for directory in hex_dirs():
        if (directory / name).is_file():
            return directory / name
    raise FlashError(f"no prebuilt {name}: build it as {HEX_README} explains and put it in hex/, "
                     "or name one with --at_client_hex PATH")


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


def run_with_firmware(work: Callable[[], T], *, port: str, program_hex: bool, app_hex: Optional[str],
                      programmer: str = "auto", serial_number: Optional[str] = None,
                      at_client_hex: Optional[str] = None, progress: Optional[Progress] = None,
                      notify: Callable[[str], None] = lambda message: None,
                      boot_timeout: float = BOOT_TIMEOUT) -> T:
    """Run `work` between flashing at_client (-x) and flashing the user's application (--program_app)."""
    if not program_hex and not app_hex:
        return work()
    # Everything that can be checked is checked before the kit is touched.
    kit = ports.find_kit_for_port(port)
    if kit is not None and not kit.has_jlink:
        raise FlashError(f"{kit.name} has no J-Link, so it cannot be flashed this way: use nrfutil's "
                         "MCUboot path ('nrfutil device program --traits mcuboot ...') and run cmng without -x")
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
        image = Path(at_client_hex) if at_client_hex else check_hex(find_at_client_hex(ports.board_for_serial(probe)[1]))
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
