"""Finding attached Nordic kits and their AT ports.

USB enumeration (`serial.tools.list_ports.comports`) is the hardware boundary;
everything after it (grouping, ordering, probing with `AT`) is ordinary code that
tests run against real (simulated) ports.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import ATError, PortError
from .transport import Transport

JLINK_VID = 0x1366
NORDIC_VID = 0x1915
THINGY_PIDS = {0x9100: "Thingy:91", 0x910A: "Thingy:91 X"}
_BOARDS = (  # USB serial number prefix -> (kit, board name used for hex/at_client_<board>.hex)
    ("000960", "nRF9160 DK", "nrf9160dk"),
    ("001050", "nRF9161 DK", "nrf9161dk"),
    ("001051", "nRF9151 DK", "nrf9151dk"),
    ("001052", "nRF9151 DK", "nrf9151dk"),
)


@dataclass
class Kit:
    serial_number: str
    vid: int
    pid: int
    ports: list = field(default_factory=list)  # device paths, AT port (interface 0) first
    responding: bool | None = None  # answered AT with OK (None: not probed)
    note: str = ""

    @property
    def at_port(self) -> str:
        return self.ports[0]

    @property
    def name(self) -> str:
        if self.vid == NORDIC_VID:
            return THINGY_PIDS.get(self.pid, "Nordic USB device")
        return board_for_serial(self.serial_number)[0] or "J-Link kit"

    @property
    def has_jlink(self) -> bool:
        return self.vid == JLINK_VID


def board_for_serial(serial_number: str) -> tuple[str | None, str | None]:
    """(kit name, board) for a J-Link serial number such as 000960123456."""
    digits = str(serial_number).zfill(12)
    for prefix, kit, board in _BOARDS:
        if digits.startswith(prefix):
            return kit, board
    return None, None


def _interface(location: str | None) -> int | None:
    """`3-12.1.3:1.0` -> 0: the USB interface number after the last dot of the config part."""
    if not location or ":" not in location:
        return None
    tail = location.rsplit(":", 1)[1].rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _order_key(port: object) -> tuple:
    iface = _interface(getattr(port, "location", None))
    device = getattr(port, "device", "")
    # macOS has no location: device names sort the same way as interfaces there
    number = [int(n) for n in re.findall(r"\d+", device)] or [0]
    return (iface if iface is not None else 1 << 16, number, device)


def find_kits(comports: Iterable | None = None) -> list[Kit]:
    """Attached Nordic kits (J-Link VID 0x1366, Nordic VID 0x1915), grouped by USB serial number."""
    if comports is None:
        from serial.tools import list_ports

        comports = list_ports.comports()
    groups: dict[str, list] = {}
    for port in comports:
        if getattr(port, "vid", None) not in (JLINK_VID, NORDIC_VID):
            continue
        key = getattr(port, "serial_number", None) or port.device
        groups.setdefault(key, []).append(port)
    kits = []
    for serial_number, members in sorted(groups.items()):
        members.sort(key=_order_key)
        kits.append(Kit(serial_number, members[0].vid, members[0].pid, [p.device for p in members]))
    return kits


def probe_port(port: str, timeout: float = 1.0) -> tuple[bool, str]:
    """(answered, note): does an AT interface answer `AT` with OK on this port?"""
    try:
        with Transport(port, timeout=timeout) as link:
            for _ in range(2):  # the first AT may meet leftover bytes in the modem's buffer
                if link.command("AT").ok:
                    return True, ""
            return False, "answers, but not OK to AT"
    except PortError as exc:
        return False, "busy" if "busy" in str(exc) else str(exc)
    except ATError:
        return False, "no answer to AT"


def probe_kits(kits: list[Kit], probe: Callable[[str], tuple[bool, str]] = probe_port) -> list[Kit]:
    for kit in kits:
        kit.responding, kit.note = probe(kit.at_port)
    return kits


def find_kit_for_port(port: str, comports: Iterable | None = None) -> Kit | None:
    """The kit a device path belongs to (None for URLs and unknown ports)."""
    if "://" in port:
        return None
    real = os.path.realpath(port) if not port.upper().startswith("COM") else port
    for kit in find_kits(comports):
        if port in kit.ports or real in kit.ports:
            return kit
    return None


def _listed(kits: list[Kit]) -> str:
    return ", ".join(f"{k.serial_number} ({k.at_port})" for k in kits)


def auto_port(serial_number: str | None = None, comports: Iterable | None = None,
              probe: Callable[[str], tuple[bool, str]] = probe_port, require_answer: bool = True) -> str:
    """The AT port of the single responding kit (or of the kit named by serial number).

    With `require_answer=False` (before at_client is flashed) the single kit is taken unprobed.
    """
    kits = find_kits(comports)
    if serial_number is not None:
        wanted = str(serial_number).lstrip("0")
        kits = [kit for kit in kits if kit.serial_number.lstrip("0") == wanted]
        if not kits:
            raise PortError(f"no kit with serial number {serial_number} is attached: 'cmng ports' lists them")
    if not kits:
        raise PortError("no Nordic kit found on USB: connect one and switch it on, or name the port "
                        "instead of 'auto'")
    if not require_answer:
        if len(kits) > 1:
            raise PortError(f"several kits are attached ({_listed(kits)}): pick one by its serial number or name its port")
        return kits[0].at_port
    responding = [kit for kit in probe_kits(kits, probe) if kit.responding]
    if not responding:
        detail = "; ".join(f"{k.serial_number} ({k.at_port}): {k.note}" for k in kits)
        raise PortError(f"no kit answers AT ({detail}): flash at_client with -x, or close the program using the port")
    if len(responding) > 1:
        raise PortError(f"several kits answer AT ({_listed(responding)}): pick one by its serial number or name its port")
    return responding[0].at_port


def kit_key(port: str) -> str:
    """One name per kit, so the same kit given twice (a symlink, by-id path, other case of COM) is noticed.

    sim://NAME -> `sim:NAME` (options after `?` do not make another kit); device paths -> their real path.
    """
    if port.lower().startswith("sim://"):
        return "sim:" + port[len("sim://"):].split("?", 1)[0].strip("/")
    if "://" in port:
        return port
    if re.fullmatch(r"(?i)(\\\\\.\\)?COM\d+", port):
        return port.upper().lstrip("\\.")
    return os.path.realpath(port)
