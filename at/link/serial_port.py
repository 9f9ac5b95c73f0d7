"""Opening serial ports: the one place that turns pyserial and OS failures into `PortError`."""
from __future__ import annotations

import serial

from ..errors import PortError

# J-Link OB drops bytes of long host writes while its MSD function is on: write in chunks.
WRITE_CHUNK = 64
# How long one blocking read may wait before a deadline is checked again.
POLL = 0.1

SERIAL_ERRORS = (serial.SerialException, OSError, ValueError)


def open_serial(port: str, baudrate: int, exclusive: bool = True) -> serial.SerialBase:
    """Open a device path, COM port or any pyserial URL, turning failures into `PortError`."""
    try:
        link = serial.serial_for_url(port, baudrate=baudrate, timeout=POLL, write_timeout=10, do_not_open=True)
        if exclusive and "://" not in port:
            try:
                link.exclusive = True  # keeps ModemManager and friends away (Linux)
            except (ValueError, AttributeError):
                pass
        link.open()
        return link
    except SERIAL_ERRORS as exc:
        raise PortError(open_hint(port, exc)) from None


def open_hint(port: str, exc: Exception) -> str:
    """One line that says why `port` did not open and what to do."""
    text = str(exc)
    low = text.lower()
    if "protocol" in low and "not known" in low:
        return f"cannot open {port}: unknown URL scheme ({text}); sim:// ports need 'import at' first"
    if "busy" in low or "lock" in low or "access is denied" in low or "exclusively" in low:
        return f"cannot open {port}: the port is busy; close the program using it (a terminal, ModemManager) and retry"
    if "permission" in low:
        return f"cannot open {port}: permission denied; on Linux add yourself to the 'dialout' group and log in again"
    if "no such file" in low or "filenotfound" in low or "cannot find" in low:
        return f"cannot open {port}: no such port; 'cmng ports' lists the kits attached"
    return f"cannot open {port}: {text}"


class SerialPort:
    """An open port whose every failure is a `PortError` naming the port and the fix."""

    def __init__(self, port: str, baudrate: int, exclusive: bool = True) -> None:
        self.port = port
        self._serial: serial.SerialBase | None = open_serial(port, baudrate, exclusive)

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    @property
    def raw(self) -> serial.SerialBase:
        """The pyserial object (tests reach the simulator through it)."""
        return self._require()

    def _require(self) -> serial.SerialBase:
        if self._serial is None:
            raise PortError(f"{self.port} is closed")
        return self._serial

    def read_some(self) -> bytes:
        """What has arrived, or wait up to `POLL` seconds for one byte."""
        link = self._require()
        try:
            return link.read(max(1, link.in_waiting))
        except SERIAL_ERRORS as exc:
            raise PortError(f"{self.port} went away during a command ({exc}): check the cable and that "
                            "no other program opened the port") from None

    def read_waiting(self) -> bytes:
        """What has arrived, without waiting."""
        link = self._require()
        try:
            waiting = link.in_waiting
            return link.read(waiting) if waiting else b""
        except SERIAL_ERRORS as exc:
            raise PortError(f"{self.port} went away ({exc}): check the cable") from None

    def write(self, data: bytes, progress: list | None = None) -> None:
        """Write in chunks; `progress[0]` counts the bytes that may have gone out (an upper bound:
        a chunk counts before its write, so Ctrl-C in the middle of one never under-counts)."""
        link = self._require()
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                chunk = data[start:start + WRITE_CHUNK]
                if progress is not None:
                    progress[0] += len(chunk)
                link.write(chunk)
                link.flush()
        except SERIAL_ERRORS as exc:
            raise PortError(f"cannot write to {self.port} ({exc}): check the cable and that "
                            "no other program opened the port") from None

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except SERIAL_ERRORS:
                pass
            self._serial = None
