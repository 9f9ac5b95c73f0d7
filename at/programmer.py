"""Flashing a kit: one small interface, two backends.

- `PynrfjprogProgrammer`: pynrfjprog's HighLevel API (needs SEGGER J-Link software).
- `NrfutilProgrammer`: `nrfutil device`, Nordic's replacement, driven through its JSON output.

Both are imported and probed lazily: listing or writing credentials never loads
pynrfjprog. Every failure becomes a `FlashError` whose message says what to install
or do, never a traceback from a DLL.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .errors import FlashError

# progress(stage, percent or None)
Progress = Callable[[str, float | None], None]

# pynrfjprog error codes worth explaining (pynrfjprog.APIError.NrfjprogdllErr)
_APIERROR_HINTS = {
    -151: "pynrfjprog cannot load its library: install libusb-1.0 (Debian/Ubuntu: apt-get install libusb-1.0-0)",
    -150: "pynrfjprog's own library is missing: reinstall pynrfjprog",
    -101: "the SEGGER J-Link software is not installed (or cannot be loaded): install it from segger.com, "
          "or flash with nrfutil instead",
    -100: "the SEGGER J-Link software is not installed: install it from segger.com, or flash with nrfutil instead",
    -10: "the debug probe is not connected: check the USB cable and that the kit is powered",
    -11: "the nRF91 is not reachable through the probe: check the kit's power switch and the SWD select switch",
    -102: "the J-Link is in use by another program (nRF Connect, a debugger): close it and retry",
}


def check_hex(path: str) -> Path:
    """Refuse a missing, empty or non-Intel-HEX file before anything touches the kit."""
    hex_path = Path(path)
    if not hex_path.is_file():
        raise FlashError(f"hex file {path} does not exist")
    if hex_path.stat().st_size == 0:
        raise FlashError(f"hex file {path} is empty")
    record = re.compile(r"^:([0-9A-Fa-f]{2})([0-9A-Fa-f]{4})([0-9A-Fa-f]{2})([0-9A-Fa-f]*)$")
    saw_eof = False
    with open(hex_path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line:
                continue
            try:
                text = line.decode("ascii")
            except UnicodeDecodeError:
                raise FlashError(f"{path} is not an Intel HEX file (binary data on line {number}): "
                                 "give the .hex, not the .bin or .elf") from None
            match = record.match(text)
            if not match or len(match.group(4)) != 2 * int(match.group(1), 16) + 2:
                raise FlashError(f"{path} is not a valid Intel HEX file (line {number}): "
                                 "give the .hex from the build's zephyr/ or merged.hex")
            data = bytes.fromhex(text[1:])
            if sum(data) & 0xFF:
                raise FlashError(f"{path} has a bad checksum on line {number}: the file is corrupt")
            if match.group(3) == "01":
                saw_eof = True
                break
    if not saw_eof:
        raise FlashError(f"{path} has no end-of-file record: the file is truncated")
    return hex_path


def choose_probe(probes: list[str], serial_number: str | None) -> str:
    """The probe to use: the one named, or the only one; several unnamed is an error, never a dialog."""
    if serial_number is not None:
        wanted = str(serial_number).lstrip("0")
        for probe in probes:
            if str(probe).lstrip("0") == wanted:
                return str(probe)
        raise FlashError(f"no debug probe with serial number {serial_number}; attached: "
                         f"{', '.join(probes) or 'none'}")
    if not probes:
        raise FlashError("no debug probe found: connect the kit over USB (the J-Link port) and switch it on")
    if len(probes) > 1:
        raise FlashError(f"several debug probes are attached ({', '.join(probes)}): name one by its serial number")
    return str(probes[0])


class Programmer:
    """Program a hex into the application core of the kit with a given probe serial number."""

    name = "abstract"

    def probes(self) -> list[str]:
        raise NotImplementedError

    def program(self, hex_path: str, serial_number: str, *, erase_all: bool = False,
                progress: Progress | None = None) -> None:
        raise NotImplementedError

    def reset(self, serial_number: str) -> None:
        raise NotImplementedError


class PynrfjprogProgrammer(Programmer):
    name = "pynrfjprog"

    def __init__(self) -> None:
        try:
            from pynrfjprog import HighLevel
            from pynrfjprog.APIError import APIError
        except ImportError as exc:
            raise FlashError(f"pynrfjprog is not usable ({exc}): pip install pynrfjprog, "
                             "or flash with nrfutil instead") from None
        self._hl = HighLevel
        self._api_error = APIError

    def _explain(self, exc: Exception) -> FlashError:
        code = getattr(exc, "err_code", None)
        hint = _APIERROR_HINTS.get(code, None) if code is not None else None
        return FlashError(f"pynrfjprog error {code}: {hint}" if hint else f"pynrfjprog failed: {exc}")

    def _run(self, action: Callable[[object], object]) -> object:
        try:
            with self._hl.API() as api:
                return action(api)
        except self._api_error as exc:
            raise self._explain(exc) from None
        except OSError as exc:
            raise FlashError(f"pynrfjprog cannot run here: {exc}") from None

    def probes(self) -> list[str]:
        return [str(snr) for snr in self._run(lambda api: api.get_connected_probes()) or []]

    def _probe(self, api: object, serial_number: str) -> object:
        return self._hl.DebugProbe(api, int(serial_number), self._hl.CoProcessor.CP_APPLICATION)

    def program(self, hex_path: str, serial_number: str, *, erase_all: bool = False,
                progress: Progress | None = None) -> None:
        hl = self._hl
        options = hl.ProgramOptions(
            erase_action=hl.EraseAction.ERASE_ALL if erase_all else hl.EraseAction.ERASE_SECTOR,
            verify=hl.VerifyAction.VERIFY_READ,
            reset=hl.ResetAction.RESET_SYSTEM)

        def action(api: object) -> None:
            if progress:
                progress("connecting", None)
            with self._probe(api, serial_number) as probe:
                if progress:
                    progress("programming and verifying", None)
                probe.program(os.fspath(hex_path), program_options=options)
                if progress:
                    progress("resetting", None)
                probe.reset()
            if progress:
                progress("done", 100.0)

        self._run(action)

    def reset(self, serial_number: str) -> None:
        def action(api: object) -> None:
            with self._probe(api, serial_number) as probe:
                probe.reset()

        self._run(action)


class NrfutilProgrammer(Programmer):
    name = "nrfutil"

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or shutil.which("nrfutil")
        if not self.executable:
            raise FlashError("nrfutil is not on PATH: install it from Nordic (nRF Util), then "
                             "'nrfutil install device', or flash with pynrfjprog instead")
        try:
            check = subprocess.run([self.executable, "device", "--help"], capture_output=True, text=True,
                                   timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FlashError(f"cannot run {self.executable}: {exc}") from None
        if check.returncode != 0:
            text = (check.stderr + check.stdout).lower()
            if "no such command" in text:
                raise FlashError(f"{self.executable} is the old pip nrfutil 6.x (no 'device' command): "
                                 "pip uninstall nrfutil, install nRF Util from Nordic, then 'nrfutil install device'")
            raise FlashError(f"'{self.executable} device' does not work: run 'nrfutil install device'")

    def _exec(self, args: list[str], progress: Progress | None = None) -> list[dict]:
        command = [self.executable, "--json", "device", *args]
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError as exc:
            raise FlashError(f"cannot run nrfutil: {exc}") from None
        events: list[dict] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            events.append(event)
            if progress and event.get("type") == "task_progress":
                info = (event.get("data") or {}).get("progress") or {}
                progress(str(info.get("description", "working")), info.get("progressPercentage"))
        stderr = proc.stderr.read() if proc.stderr else ""
        code = proc.wait()
        error = self._error_of(events)
        if code != 0 or error:
            raise FlashError(f"nrfutil device {args[0]} failed: {error or stderr.strip() or f'exit code {code}'}")
        return events

    @staticmethod
    def _error_of(events: list[dict]) -> str | None:
        for event in events:
            if event.get("type") != "task_end":
                continue
            data = event.get("data") or {}
            error = data.get("error")
            if error:
                return str(error.get("description") or error.get("message") or error) \
                    if isinstance(error, dict) else str(error)
            if data.get("result") == "fail":
                return str(data.get("message") or "failed")
        return None

    def probes(self) -> list[str]:
        devices: list = []
        for event in self._exec(["list"]):
            if event.get("type") == "task_end":
                devices = ((event.get("data") or {}).get("data") or {}).get("devices") or []
        return [str(dev["serialNumber"]) for dev in devices
                if (dev.get("traits") or {}).get("jlink") and "serialNumber" in dev]

    def program(self, hex_path: str, serial_number: str, *, erase_all: bool = False,
                progress: Progress | None = None) -> None:
        erase = "ERASE_ALL" if erase_all else "ERASE_RANGES_TOUCHED_BY_FIRMWARE"
        self._exec(["program", "--firmware", os.fspath(hex_path), "--serial-number", str(serial_number),
                    "--options", f"chip_erase_mode={erase},verify=VERIFY_READ,reset=RESET_SYSTEM"], progress)

    def reset(self, serial_number: str) -> None:
        self._exec(["reset", "--serial-number", str(serial_number)])


BACKENDS = {"pynrfjprog": PynrfjprogProgrammer, "nrfutil": NrfutilProgrammer}


def select_programmer(name: str = "auto") -> Programmer:
    """`auto`: nrfutil if it works, else pynrfjprog if it can list probes; say why neither works."""
    if name != "auto":
        if name not in BACKENDS:
            raise FlashError(f"unknown programmer {name!r}: use auto, pynrfjprog or nrfutil")
        return BACKENDS[name]()
    reasons = []
    for backend in (NrfutilProgrammer, PynrfjprogProgrammer):
        try:
            programmer = backend()
            programmer.probes()  # proves the backend can run on this machine
            return programmer
        except FlashError as exc:
            reasons.append(f"{backend.name}: {exc}")
    raise FlashError("no way to flash on this machine (" + "; ".join(reasons) + ")")
