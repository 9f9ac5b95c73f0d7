"""The wire between host and simulated modem: timing and faults, no modem logic.

Bytes the modem answers become readable over time, as on a real UART: each byte
costs 10/baud seconds, each command adds a processing latency, and input sent while
a command runs and its answer is written is lost (at_host's receiver is off then).
The link talks to a front end (`at.sim.device.make_front_end`), never to the modem.
Shared by the pyserial `sim://` handler and the pty server, so both behave alike.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional, Protocol

from .modem import BANNER

Clock = Callable[[], float]


@dataclass
class LinkOptions:
    baud: Optional[int] = None  # emulate this baud rate (None: infinitely fast)
    latency: float = 0.0  # seconds between a command's last byte and its answer
    banner: bool = False  # the boot banner is waiting when the port opens
    disconnect_after: Optional[int] = None  # the port vanishes after the modem sent this many bytes
    fragment: Optional[int] = None  # at most this many bytes per read


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
    def __init__(self, front_end: FrontEnd, options: Optional[LinkOptions] = None,
                 clock: Clock = time.monotonic) -> None:
        self.front_end = front_end
        self.options = options or LinkOptions()
        self._clock = clock
        self._out = bytearray()  # bytes scheduled but not yet read
        self._ready_at: list[float] = []  # when each byte of _out becomes readable
        self._busy_until = 0.0  # input before this time is dropped: a command is running
        self._input_done = 0.0
        self._sent = 0
        self._gone = False
        if self.options.banner:
            self._schedule(BANNER, clock())

    def _byte_time(self) -> float:
        return 10.0 / self.options.baud if self.options.baud else 0.0

    def _schedule(self, data: bytes, start: float) -> None:
        step = self._byte_time()
        first = max(start, self._ready_at[-1] if self._ready_at else start)
        self._out += data
        self._ready_at += [first + step * (i + 1) for i in range(len(data))]

    def write(self, data: bytes) -> None:
        """Bytes from the host reach the modem after their wire time."""
        self._check_connected()
        now = self._clock()
        arrive = max(now, self._input_done) + self._byte_time() * len(data)
        self._input_done = arrive
        if now < self._busy_until:
            self.front_end.lost(data)  # at_host does not listen while a command runs
            return
        answer = self.front_end.receive(data)
        if answer:
            # at_host listens again once its answer is written out (the last byte has left)
            self._schedule(answer, arrive + self.options.latency)
            self._busy_until = self._ready_at[-1]
        urcs = self.front_end.take_unsolicited()
        if urcs:
            self._schedule(urcs, self._ready_at[-1] if self._ready_at else arrive)

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
        now = self._clock()
        count = 0
        for ready in self._ready_at:
            if ready > now:
                break
            count += 1
        if self.options.fragment:
            count = min(count, self.options.fragment)
        return count

    def next_ready(self) -> Optional[float]:
        """When the next byte becomes readable (None: nothing scheduled)."""
        return self._ready_at[0] if self._ready_at else None

    def read(self, size: int) -> bytes:
        self._check_connected()
        count = min(size, self.available())
        limit = self.options.disconnect_after
        if limit is not None:
            count = min(count, limit - self._sent)
        data = bytes(self._out[:count])
        del self._out[:count]
        del self._ready_at[:count]
        self._sent += count
        if limit is not None and self._sent >= limit:
            self._gone = True
        return data

    def _check_connected(self) -> None:
        if self._gone:
            raise Disconnected("the simulated device was unplugged")

    def reset_input(self) -> None:
        """Drop what has arrived and was not read (pyserial's reset_input_buffer)."""
        now = self._clock()
        count = sum(1 for ready in self._ready_at if ready <= now)
        del self._out[:count]
        del self._ready_at[:count]
