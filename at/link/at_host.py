"""The at_host link: one command at a time over a serial port, never out of step.

at_host (spec section 1) keeps a half-received command and its quote flag across a
closed port, drops input while a command runs, and cuts answers longer than its
4096-byte buffer with no final line. So this link:
- refuses text at_host would frame differently, before sending (`protocol.check_command`);
- on open, sends `AT`; only when nothing answers, empties the buffer with DEL bytes and
  closes a possibly open quote (`at_host_sync`), so half-sent content is never committed;
- after a timeout, a cut answer or an interruption, resynchronises with a probe whose
  answer cannot be confused with a stale one before the next command (`_resync`);
- on Ctrl-C mid-command, deletes what it sent, closes its quote, drains the answer.
It never sleeps for a fixed time: it waits for bytes, up to deadlines.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from .. import protocol
from ..errors import AnswerCutError, ATError, ATTimeoutError
from ..lazylog import getLogger
from .at_host_sync import InStep
from .base import PortLink
from .serial_port import SerialPort

log = getLogger(__name__)

Trace = Callable[[str, str], None]

AT_HOST_BUFFER = protocol.AT_HOST_BUFFER
CUT_GRACE = 0.3  # after a buffer's worth of answer without a final line, wait this much more


class Response:
    """What the modem answered to one command.

    (A plain class: a `typing.NamedTuple` or `collections.namedtuple` costs every run ~0.3 ms to create.)
    """

    __slots__ = ("command", "lines", "final", "ok", "code")

    def __init__(self, command: str, lines: list[str], final: str, ok: bool, code: int | None) -> None:
        self.command = command
        self.lines = lines  # information lines, in order
        self.final = final  # the final result line as received
        self.ok = ok
        self.code = code  # the CME/CMS number, if any

    def __repr__(self) -> str:
        return (f"Response(command={self.command!r}, lines={self.lines!r}, final={self.final!r}, ok={self.ok!r}, "
                f"code={self.code!r})")


class _Exchange:
    """What came back for one command so far."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: list[str] = []
        self.final: str | None = None
        self.ok = False
        self.code: int | None = None
        self.received = 0  # bytes of answer (URCs excluded only once recognised)


class AtHostLink(PortLink, InStep):
    """A serial link to at_host: `command()` in, `Response` out, URCs kept in `urcs`.

    Interface shared with other links (e.g. the AT shell): `port`, `timeout`, `urcs`,
    `command(text, timeout=)`, `poll_urcs()`, `close()`, `is_open`, `wire_seconds(n)`.
    """

    def __init__(self, port: str, *, baudrate: int = 115200, timeout: float = 10.0,
                 trace: Trace | None = None, redact: bool = True, exclusive: bool = True,
                 serial_port: SerialPort | None = None) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.urcs: list[str] = []
        self._trace = trace
        self._redact = redact
        self._splitter = protocol.LineSplitter()
        self._port = serial_port or SerialPort(port, baudrate, exclusive)
        self._dirty = False  # an answer may still be in flight: resync before the next command
        self._owed = False  # a command went out whole and nothing of its answer came: it may still come
        self._last: str = ""

    # ------------------------------------------------------------ wire

    def wire_seconds(self, nbytes: int) -> float:
        """Time to move `nbytes` at the configured baud rate (10 bits per byte, 8N1)."""
        return nbytes * 10.0 / self.baudrate

    # ------------------------------------------------------------ tracing

    def _trace_line(self, direction: str, text: str) -> None:
        if self._trace is not None:
            self._trace(direction, protocol.redact(text) if self._redact else text)

    # ------------------------------------------------------------ commands

    def poll_urcs(self) -> list[str]:
        """Read what has arrived since the last command and return all URCs set aside so far."""
        self._drain()
        return list(self.urcs)

    def command(self, text: str, *, timeout: float | None = None) -> Response:
        """Send one command and wait for its final result line.

        Raises `ValidationError` before sending text at_host would misframe,
        `ATTimeoutError` when no final line comes within `timeout` (default: the
        link's) plus the wire time of the command and the largest answer, and
        `AnswerCutError` when an answer stops without its final line.
        """
        protocol.check_command(text)
        if self._dirty:
            self._resync()
        base = self.timeout if timeout is None else timeout
        return self._exchange(text, base)

    def _budget(self, data: bytes, base: float) -> float:
        return base + self.wire_seconds(len(data) + AT_HOST_BUFFER)

    def _exchange(self, text: str, base: float, *, cut_is_error: bool = True) -> Response:
        data = protocol.encode_command(text)
        self._drain()
        budget = self._budget(data, base)
        self._trace_line(">", text)
        self._last = text
        sent = [0]
        try:
            self._port.write(data, sent)
            ex = self._await(text, time.monotonic() + budget)
        except KeyboardInterrupt:
            self._interrupted(data, sent[0], budget)
            raise
        except ATError:
            self._dirty = True
            self._splitter.reset()
            raise
        if ex.final is None:
            partial = self._splitter.pending.strip()
            self._dirty = True
            self._owed = not (ex.lines or partial)
            self._splitter.reset()
            if (ex.lines or partial) and cut_is_error:
                raise AnswerCutError(text, ex.received, AT_HOST_BUFFER)
            raise ATTimeoutError(text, budget)
        self._line_end()
        return Response(text, ex.lines, ex.final, ex.ok, ex.code)

    def _line_end(self) -> None:
        """Take the LF of a final line's CR LF: at_host listens again only once its answer is out."""
        if not self._splitter.after_cr:
            return
        deadline = time.monotonic() + self.wire_seconds(2) + 0.05
        while self._splitter.after_cr and time.monotonic() < deadline:
            data = self._port.read_some()
            if not data:
                break
            for line in self._splitter.feed(data):
                self._trace_line("<", line)
                self._keep_if_urc(line)

    def _await(self, text: str, deadline: float) -> _Exchange:
        """Read until the final line of `text` or the deadline (then `final` stays None)."""
        ex = _Exchange(text)
        while ex.final is None:
            now = time.monotonic()
            if now >= deadline:
                break
            data = self._port.read_some()
            ex.received += len(data)
            for line in self._splitter.feed(data):
                self._take(ex, line)
            if ex.final is None and ex.received >= AT_HOST_BUFFER - 1:
                deadline = min(deadline, now + CUT_GRACE)  # at_host cannot send more than its buffer
        return ex

    def _take(self, ex: _Exchange, line: str) -> None:
        self._trace_line("<", line)
        if ex.final is not None:  # after the final line: only URCs matter
            self._keep_if_urc(line)
            return
        kind = protocol.classify(line, ex.text)
        if kind is protocol.LineKind.URC:
            self.urcs.append(line)
            ex.received -= len(line) + 2
        elif kind is protocol.LineKind.INFO:
            ex.lines.append(line)
        elif kind in (protocol.LineKind.OK, protocol.LineKind.ERROR):
            ex.ok, ex.code = protocol.final_result(line)  # type: ignore[misc]
            ex.final = line.strip()

    def _drain(self) -> None:
        """Take in bytes that came between commands: keep URCs, drop noise and partial lines."""
        for line in self._splitter.feed(self._port.read_waiting()):
            self._trace_line("<", line)
            self._keep_if_urc(line)
        # A partial line that may be a URC in transit is kept; anything else is noise.
        pending = self._splitter.pending
        if pending[:1] not in (b"+", b"%") or self._dirty:
            if pending:
                log.debug("ignoring %d bytes of a partial line between commands", len(pending))
            self._splitter.reset()

    def _keep_if_known_urc(self, line: str) -> None:
        """While getting in step, a prefixed line may be a stale answer: keep only known URCs."""
        if protocol.line_prefix(line) in protocol.KNOWN_URC_PREFIXES:
            self.urcs.append(line)

    def _keep_if_urc(self, line: str) -> None:
        if protocol.is_urc(line, None):
            self.urcs.append(line)
        else:
            log.debug("ignoring a stray line between commands (%d characters)", len(line))
