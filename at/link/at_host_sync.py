"""Getting the at_host link in step: recovery on open, resync after trouble, cleanup after Ctrl-C.

at_host keeps a half-received command and its quote flag across a closed port and
answers nothing while a command runs, so a link can find the modem's buffer holding
someone else's half command, or an old answer still on its way. The rules (spec
section 1): recover only when `AT` gets no answer, by emptying the buffer with DEL
bytes and closing a possibly open quote (never committing the half-sent content);
resync with a probe whose answer a stale one cannot fake.
"""
from __future__ import annotations

import time

from .. import protocol
from ..errors import ATTimeoutError, PortError
from ..lazylog import getLogger

log = getLogger(__name__)

AT_HOST_BUFFER = protocol.AT_HOST_BUFFER
FIRST_AT_WAIT = 1.2  # the first AT: "about 1 s" whatever the command timeout
SHORT_WAIT = 0.6  # an answer that is due at once (ERROR to a lone quote, a probe)
OPEN_EXTRA = 4.5  # opening, recovery included, takes at most the timeout plus this (and a last read)
DEL = b"\x7f"
PROBES = ("AT+CMEE?", "AT+CFUN?")  # each answers an info line of its own, then OK


class InStep:
    """Mixed into `AtHostLink`: uses its port, splitter, trace and `_line_end`/`_keep_if_*`."""

    def _probe(self, deadline: float, attempt: int = 0) -> str:
        """One exchange whose answer a stale one cannot fake: an info line, then OK.

        A final line that comes without the probe's info line belongs to an older
        command (its answer was late): it is skipped and the wait goes on.
        """
        # never the command whose answer may be late; another one on each attempt, in case one is unsupported
        probes = [p for p in PROBES if p[2:-1] not in self._last.upper()]
        probe = probes[attempt % len(probes)]
        prefix = probe[2:-1]
        data = protocol.encode_command(probe)
        self._drain()
        self._trace_line(">", probe)
        self._last = probe
        self._port.write(data)
        seen = False
        outcome = "silent"
        while time.monotonic() < deadline:
            for line in self._splitter.feed(self._port.read_some()):
                self._trace_line("<", line)
                result = protocol.final_result(line)
                if line.upper().startswith(prefix + ":"):
                    seen = True
                elif result is not None:
                    if seen and result[0]:
                        self._line_end()
                        return "ok"
                    seen = False  # a stale answer's end
                    outcome = "alive"
                else:
                    self._keep_if_known_urc(line)
        return outcome

    def _resync(self) -> None:
        """Get back in step after a timeout, a cut answer or an interruption."""
        log.debug("resynchronising with the modem on %s", self.port)
        start = time.monotonic()
        end = start + self.timeout + OPEN_EXTRA
        wait = max(SHORT_WAIT, min(self.timeout, 2.0)) + self.wire_seconds(AT_HOST_BUFFER)
        if self._owed:  # let a late answer come first, rather than send into a busy receiver
            self._await_final(min(end, time.monotonic() + wait))
            self._owed = False
        for attempt in range(3):
            outcome = self._probe(min(end, time.monotonic() + wait), attempt)
            if outcome == "ok":
                self._dirty = False
                return
            if outcome == "silent" and attempt < 2 and time.monotonic() < end:
                self._recover(end)
        raise ATTimeoutError(self._last, time.monotonic() - start)

    def open_sync(self) -> None:
        """Make sure at_host's buffer is empty and the link in step; cheap when `AT` answers."""
        start = time.monotonic()
        end = start + self.timeout + OPEN_EXTRA
        self._drain()
        clean = True
        recovered = 0
        for _ in range(4):
            wait = min(FIRST_AT_WAIT, self.timeout) + self.wire_seconds(8)
            outcome = self._try_at(min(end, time.monotonic() + wait))
            if outcome == "ok":
                if clean:
                    return
                self._dirty = True
                self._resync()
                return
            clean = False
            if outcome == "silent" and recovered < 2:
                self._recover(end)
                recovered += 1
            if time.monotonic() >= end:
                break
        self._dirty = True
        raise ATTimeoutError("AT", time.monotonic() - start)

    def _try_at(self, deadline: float) -> str:
        """'ok'; 'answered' (ERROR, or garbage glued to a final line); 'noise'; 'silent'."""
        self._drain()
        self._trace_line(">", "AT")
        self._last = "AT"
        self._port.write(protocol.encode_command("AT"))
        received = 0
        while time.monotonic() < deadline:
            data = self._port.read_some()
            received += len(data)
            for line in self._splitter.feed(data):
                self._trace_line("<", line)
                result = protocol.final_result(line)
                if result is not None:
                    self._line_end()
                    return "ok" if result[0] else "answered"
                if line.rstrip().endswith(("OK", "ERROR")):
                    self._line_end()
                    return "answered"  # boot noise with no line end glued to the answer
                self._keep_if_known_urc(line)
        self._splitter.reset()
        return "noise" if received else "silent"

    def _recover(self, end: float) -> None:
        """Empty at_host's buffer and close a quote left open, without committing what was there.

        DEL per buffered byte empties it (the quote flag stays); `"` + line end then either
        closes an open quote (the command `"` answers ERROR) or opens one (no answer), in
        which case a second `"` + line end closes it.
        """
        log.debug("at_host does not answer on %s: emptying its buffer", self.port)
        if self._trace is not None:
            self._trace(">", f"<{AT_HOST_BUFFER} DEL bytes>")
        self._port.write(DEL * AT_HOST_BUFFER)
        for _ in range(2):
            self._trace_line(">", '"')
            self._port.write(b'"\r\n')
            wait = SHORT_WAIT + self.wire_seconds(AT_HOST_BUFFER + 16)
            if self._await_final(min(end, time.monotonic() + wait), errors_only=True):
                return

    def _await_final(self, deadline: float, errors_only: bool = False) -> bool:
        """Read up to a final line (with `errors_only`, an error: a late OK is someone else's)."""
        while time.monotonic() < deadline:
            for line in self._splitter.feed(self._port.read_some()):
                self._trace_line("<", line)
                result = protocol.final_result(line)
                if result is not None and not (errors_only and result[0]):
                    self._line_end()
                    return True
                if result is None:
                    self._keep_if_known_urc(line)
        return False

    # ------------------------------------------------------------ Ctrl-C

    def _interrupted(self, data: bytes, sent: int, budget: float) -> None:
        """Clean up after Ctrl-C so the next command (e.g. restoring CFUN) meets an empty buffer."""
        self._dirty = True
        try:
            if sent < len(data):
                quote_open = data[:sent].count(b'"') % 2 == 1
                # +1: the `\n` our previous command left in at_host's buffer
                cleanup = DEL * (sent + 1) + (b'"' if quote_open else b"") + b"\r\n"
                self._port.write(cleanup)
                if sent >= len(data) - 1:  # the terminator went out: the command may be running
                    self._owed = not self._await_final(time.monotonic() + min(budget, self.timeout))
                elif quote_open:  # the lone `"` answers ERROR
                    self._await_final(time.monotonic() + SHORT_WAIT + self.wire_seconds(len(cleanup)))
            else:
                self._owed = not self._await_final(time.monotonic() + min(budget, self.timeout))
        except PortError as exc:
            log.debug("could not clean up after the interruption: %s", exc)
        self._splitter.reset()
