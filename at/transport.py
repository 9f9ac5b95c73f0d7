"""One open serial link to an AT interface.

Sends a command, collects its response up to the final result line, and sets
unsolicited result codes aside. It never pipelines (at_host turns its receiver off
while a command runs) and never sleeps for a fixed time: it waits for bytes, with a
deadline per command that grows with the bytes to move at the link's baud rate.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, NamedTuple, Optional

import serial

from . import protocol
from .errors import ATTimeoutError, PortError, ProtocolError

log = logging.getLogger(__name__)

# Largest response at_host can hold (it shares its 4096-byte buffer with the command).
RESPONSE_BUDGET = protocol.MAX_COMMAND_LEN + 1
# J-Link OB drops bytes of long host writes while its MSD function is on: write in chunks.
WRITE_CHUNK = 64
# How long one blocking read may wait before the deadline is checked again.
_POLL = 0.1

Trace = Callable[[str, str], None]


class Response(NamedTuple):
    """What the modem answered to one command."""

    command: str
    lines: list  # information lines, in order (list[str])
    final: str  # the final result line as received
    ok: bool
    code: Optional[int]  # the CME/CMS number, if any


def open_serial(port: str, baudrate: int, exclusive: bool = True) -> serial.SerialBase:
    """Open a device path, COM port or any pyserial URL, turning failures into `PortError`."""
    try:
        link = serial.serial_for_url(port, baudrate=baudrate, timeout=_POLL, write_timeout=10, do_not_open=True)
        if exclusive and "://" not in port:
            try:
                link.exclusive = True  # keeps ModemManager and friends away (Linux)
            except (ValueError, AttributeError):
                pass
        link.open()
        return link
    except (serial.SerialException, OSError, ValueError) as exc:
        raise PortError(_open_hint(port, exc)) from None


def _open_hint(port: str, exc: Exception) -> str:
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


class Transport:
    """A serial link speaking AT: `command()` in, `Response` out, URCs kept in `urcs`."""

    mode = "at"

    def __init__(self, port: str, *, baudrate: int = 115200, timeout: float = 10.0,
                 trace: Optional[Trace] = None, redact: bool = True, exclusive: bool = True,
                 serial_port: Optional[serial.SerialBase] = None) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.urcs: list[str] = []
        self._trace = trace
        self._redact = redact
        self._splitter = protocol.LineSplitter()
        self._link: Optional[serial.SerialBase] = serial_port or open_serial(port, baudrate, exclusive)

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._link is not None:
            try:
                self._link.close()
            except (serial.SerialException, OSError):
                pass
            self._link = None

    @property
    def is_open(self) -> bool:
        return self._link is not None

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ I/O

    def _require_link(self) -> serial.SerialBase:
        if self._link is None:
            raise PortError(f"{self.port} is closed")
        return self._link

    def _read_some(self) -> bytes:
        link = self._require_link()
        try:
            return link.read(max(1, link.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"{self.port} went away during a command ({exc}): check the cable and that "
                            "no other program opened the port") from None

    def _write(self, data: bytes) -> None:
        link = self._require_link()
        try:
            for start in range(0, len(data), WRITE_CHUNK):
                link.write(data[start:start + WRITE_CHUNK])
                link.flush()
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"cannot write to {self.port} ({exc}): check the cable and that "
                            "no other program opened the port") from None

    def wire_seconds(self, nbytes: int) -> float:
        """Time to move `nbytes` at the configured baud rate (10 bits per byte, 8N1)."""
        return nbytes * 10.0 / self.baudrate

    def _trace_line(self, direction: str, text: str) -> None:
        if self._trace is not None:
            self._trace(direction, protocol.redact(text) if self._redact and direction == ">" else text)

    def poll_urcs(self) -> list[str]:
        """Read what has arrived since the last command and return all URCs set aside so far."""
        self._drain()
        return list(self.urcs)

    def _drain(self) -> None:
        """Take in bytes that came between commands: keep URCs, drop noise and partial lines."""
        link = self._require_link()
        try:
            waiting = link.in_waiting
            data = link.read(waiting) if waiting else b""
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"{self.port} went away ({exc})") from None
        for line in self._splitter.feed(data):
            self._trace_line("<", line)
            self._keep_if_urc(line)
        # A partial line that may be a URC in transit is kept; anything else is noise.
        if self._splitter.pending[:1] not in (b"+", b"%"):
            if self._splitter.pending:
                log.debug("ignoring partial line between commands: %r", self._splitter.pending[:80])
            self._splitter.reset()

    def command(self, text: str, *, timeout: Optional[float] = None) -> Response:
        """Send one command and wait for its final result line.

        Raises `ATTimeoutError` when no final line comes within `timeout` (default:
        the transport's) plus the wire time of the command and the largest response.
        """
        if protocol.has_unquoted_break(text):
            raise ProtocolError("one command at a time: the command has a line break outside quotes")
        data = protocol.encode_command(text)
        self._drain()
        base = self.timeout if timeout is None else timeout
        budget = base + self.wire_seconds(len(data) + RESPONSE_BUDGET)
        self._trace_line(">", text)
        self._write(data)
        deadline = time.monotonic() + budget
        lines: list[str] = []
        response: Optional[Response] = None
        while response is None:
            if time.monotonic() >= deadline:
                self._splitter.reset()
                raise ATTimeoutError(text, budget)
            for line in self._splitter.feed(self._read_some()):
                self._trace_line("<", line)
                if response is not None:  # after the final line: only URCs matter
                    self._keep_if_urc(line)
                    continue
                kind = protocol.classify(line, text)
                if kind is protocol.LineKind.URC:
                    self.urcs.append(line)
                elif kind is protocol.LineKind.INFO:
                    lines.append(line)
                elif kind in (protocol.LineKind.OK, protocol.LineKind.ERROR):
                    ok, code = protocol.final_result(line)  # type: ignore[misc]
                    response = Response(text, lines, line.strip(), ok, code)
        return response

    def _keep_if_urc(self, line: str) -> None:
        if protocol.is_urc(line, None):
            self.urcs.append(line)
        else:
            log.debug("ignoring stray line between commands: %r", line[:80])
