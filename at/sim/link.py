"""The wire between host and simulated modem: timing and faults, no modem logic.

Bytes the modem answers become readable over time, as on a real UART: each byte
costs 10/baud seconds, each command adds a processing latency, and input sent while
a command runs and its answer is written is lost (at_host's receiver is off then).
The link talks to a front end (`at.sim.device.make_front_end`), never to the modem.
Shared by the pyserial `sim://` handler and the pty server, so both behave alike.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .modem import BANNER

Clock = Callable[[], float]


@dataclass
class LinkOptions:
    baud: int | None = None  # emulate this baud rate (None: infinitely fast)
    latency: float = 0.0  # seconds between a command's last byte and its answer
    banner: bool = False  # the boot banner is waiting when the port opens
    disconnect_after: int | None = None  # the port vanishes after the modem sent this many bytes
    fragment: int | None = None  # at most this many bytes per read
    # The kit's AT port is a USB CDC interface (spec section 5): its bytes reach the host in USB transfers,
    # at frame boundaries (1 ms at full speed), never before their wire time. 0: each byte at its wire time.
    usb_frame: float = 0.001


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:  # a structural type for checkers; front ends need no base class
    from typing import Protocol

    class FrontEnd(Protocol):
        """What frames host bytes into commands (at_host now, the AT shell later)."""

        def receive(self, data: bytes) -> bytes:
            """Bytes from the host; returns the answer to the command they complete, if any."""

        def lost(self, data: bytes) -> None:
            """Bytes that arrived while a command ran: the receiver was off."""

        def close(self) -> None:
            """The host closed the port."""

        def take_unsolicited(self) -> bytes:
            """URCs due right after the last answer (sent while the receiver listens)."""


class Disconnected(Exception):
    """The simulated device went away (as a kit unplugged mid-command)."""


class Link:
    def __init__(self, front_end: FrontEnd, options: LinkOptions | None = None,
                 clock: Clock = time.monotonic) -> None:
        self.front_end = front_end
        self.options = options or LinkOptions()
        baud = self.options.baud
        self._step = 10.0 / baud if baud else 0.0  # one byte's wire time (8N1: ten bits); fixed while open
        self._clock = clock
        # Bytes scheduled but not yet read, in runs sent back to back: byte i of a run
        # [start, data] is readable at start + (i + 1) * byte time (arithmetic, not a time per byte).
        self._runs: list[list] = []
        self._busy_until = 0.0  # input before this time is dropped: a command is running
        self._input_done = 0.0
        self._sent = 0
        self._gone = False
        if self.options.banner:
            self._schedule(getattr(front_end, "boot_text", BANNER), clock())

    def _schedule(self, data: bytes, start: float) -> None:
        end = self._last_ready()
        if end is not None and start <= end:
            self._runs[-1][1] += data  # follows the last byte without a gap
        else:
            self._runs.append([start, bytearray(data)])

    def _last_ready(self) -> float | None:
        """When the last scheduled byte becomes readable (None: nothing scheduled)."""
        if not self._runs:
            return None
        start, data = self._runs[-1]
        return start + self._step * len(data)

    def write(self, data: bytes) -> None:
        """Bytes from the host reach the modem after their wire time."""
        self._check_connected()
        now = self._clock()
        arrive = max(now, self._input_done) + self._step * len(data)
        self._input_done = arrive
        if now < self._busy_until and not getattr(self.front_end, "full_duplex", False):
            self.front_end.lost(data)  # at_host does not listen while a command runs
            return
        answer = self.front_end.receive(data)
        if answer:
            # at_host listens again once its answer is written out (the last byte has left)
            self._schedule(answer, arrive + self.options.latency)
            self._busy_until = self._last_ready()  # type: ignore[assignment]
        urcs = self.front_end.take_unsolicited()
        if urcs:
            last = self._last_ready()
            self._schedule(urcs, arrive if last is None else last)

    @property
    def input_done(self) -> float:
        """When the last byte written so far has crossed the wire (a flush waits for it)."""
        return self._input_done

    @property
    def dropped(self) -> int:
        """Input bytes the front end lost (receiver off, buffer full)."""
        return getattr(self.front_end, "dropped", 0)

    def close(self) -> None:
        """The host closed the port: the front end keeps what it must."""
        self.front_end.close()

    def available(self) -> int:
        count = self._arrived()
        if self.options.fragment:
            count = min(count, self.options.fragment)
        return count

    def _arrived(self) -> int:
        """How many scheduled bytes are readable by now."""
        runs = self._runs
        if not runs:
            return 0
        now = self._clock()
        frame = self.options.usb_frame
        if frame:
            now = (now // frame) * frame  # the last frame boundary: what it carried is all the host has
        step = self._step
        count = 0
        for start, data in runs:
            size = len(data)
            if now >= start + step * size:
                count += size
                continue
            if now >= start + step:  # part of this run is out (step > 0 here)
                count += int((now - start) / step)
            break
        return count

    def next_ready(self) -> float | None:
        """When the next byte becomes readable (None: nothing scheduled): the frame boundary after its wire time."""
        if not self._runs:
            return None
        ready = self._runs[0][0] + self._step
        frame = self.options.usb_frame
        return -(-ready // frame) * frame if frame else ready

    def read(self, size: int) -> bytes:
        if self._gone:
            raise Disconnected("the simulated device was unplugged")
        count = min(size, self.available())
        limit = self.options.disconnect_after
        if limit is not None:
            count = min(count, limit - self._sent)
        if count <= 0:
            return b""
        data = self._take(count)
        self._sent += count
        if limit is not None and self._sent >= limit:
            self._gone = True
        return data

    def _take(self, count: int) -> bytes:
        """The first `count` scheduled bytes, removed from the runs."""
        runs = self._runs
        first = runs[0][1]
        if count == len(first):  # the common case: all that has arrived of one run
            del runs[0]
            return bytes(first)
        out = bytearray()
        while count > 0 and runs:
            run = runs[0]
            part = run[1][:count]
            out += part
            count -= len(part)
            if len(part) == len(run[1]):
                del runs[0]
            else:
                del run[1][:len(part)]
                run[0] += self._step * len(part)
        return bytes(out)

    def _check_connected(self) -> None:
        if self._gone:
            raise Disconnected("the simulated device was unplugged")

    def reset_input(self) -> None:
        """Drop what has arrived and was not read (pyserial's reset_input_buffer)."""
        count = self._arrived()
        if count:
            self._take(count)
