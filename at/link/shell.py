"""One open serial link to an application's Zephyr shell with the `at` command.

The same interface as the at_host link (`command()` in, `Response` out, URCs in
`urcs`), so `SoC` does not know which one it talks to. Each command goes out as one
shell line, `at '<command>'` after a Ctrl-U that clears any half-typed line; the
echo, ANSI colours and log lines are skipped, and the command's output ends at the
next prompt. Limits of the firmware (line buffer, response buffer, UNESCAPE_LF) are
reported as one error naming the Kconfig option to raise.
"""
from __future__ import annotations

import re
import time

from .. import protocol
from ..errors import ATError, ATTimeoutError, ProtocolError, ValidationError
from ..lazylog import getLogger
from . import shell_text
from .at_host import Response, Trace
from .base import PortLink
from .serial_port import SerialPort
from .shell_text import ShellReader

log = getLogger(__name__)

RESPONSE_BUDGET = 2 * 4096  # bytes to allow for echo and output when sizing a deadline
_QUIET = 0.15  # silence after which an unknown prompt is taken as the prompt
FIRST_ECHO = 1.0  # a shell answers Enter at once: silence this long means no shell


class ShellTimeoutError(ATTimeoutError):
    """The shell stopped answering (or never showed a prompt)."""

    def __init__(self, command: str, seconds: float, port: str) -> None:
        self.command = command
        self.seconds = seconds
        what = f"no answer to {protocol.redact(command)[:40]}" if command else "no shell prompt"
        Exception.__init__(self, f"{what} within {seconds:.1f} s from the shell on {port}: is the application "
                                 "running, and is this its shell port?")


class ShellLink(PortLink):
    """A serial link to `at` in a Zephyr shell: `command()` in, `Response` out."""

    mode = "shell"

    def __init__(self, port: str, *, baudrate: int = 115200, timeout: float = 10.0,
                 trace: Trace | None = None, redact: bool = True, exclusive: bool = True,
                 serial_port: SerialPort | None = None, prompt: str | None = None) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.urcs: list[str] = []
        self.line_limit: int | None = None  # bytes the shell keeps of a line, once a cut was seen
        self._trace = trace
        self._redact = redact
        self._reader = ShellReader(prompt)
        self._reader.partial = prompt or ""  # a prompt handed over by detection was just seen
        self._dirty = prompt is None
        self._port = serial_port or SerialPort(port, baudrate, exclusive)
        try:
            self._drain()
            if self._dirty or self._reader.visible != prompt:
                self._resync(timeout)
        except BaseException:
            self.close()
            raise

    @property
    def prompt(self) -> str | None:
        return self._reader.prompt

    # ------------------------------------------------------------ I/O

    def _read_some(self, wait: bool = True) -> bytes:
        """What has arrived; with `wait`, block briefly for at least one byte."""
        return self._port.read_some() if wait else self._port.read_waiting()

    def _write(self, data: bytes) -> None:
        self._port.write(data)

    def wire_seconds(self, nbytes: int) -> float:
        """Time to move `nbytes` at the configured baud rate (10 bits per byte, 8N1)."""
        return nbytes * 10.0 / self.baudrate

    def _trace_line(self, direction: str, text: str) -> None:
        if self._trace is not None:
            self._trace(direction, protocol.redact(text) if self._redact and direction == ">" else text)

    def _take_lines(self) -> None:
        """Trace log lines and set URCs aside; the echo is never traced (it may hold a key)."""
        for line in self._reader.lines:
            if re.search(shell_text.LOG_LINE, line):
                self._trace_line("<", line)
            elif protocol.is_urc(line, None):
                self._trace_line("<", line)
                self.urcs.append(line)
        self._reader.lines.clear()

    def _drain(self) -> None:
        data = self._read_some(wait=False)
        while data:
            self._reader.feed(data)
            data = self._read_some(wait=False)
        self._take_lines()

    def poll_urcs(self) -> list[str]:
        """Read what has arrived since the last command and return all URCs set aside so far."""
        self._drain()
        return list(self.urcs)

    def _resync(self, timeout: float) -> None:
        """Clear a half-typed line and press Enter: the shell answers with a fresh prompt.

        The prompt is learnt here when not known yet: a known one at once, any other
        prompt-like line end after a moment of silence.
        """
        self._write(shell_text.CLEAR_LINE + b"\r")
        start = quiet_since = time.monotonic()
        deadline = start + timeout
        heard = False
        self._reader.keep_all = True
        while True:
            data = self._read_some(wait=False)
            now = time.monotonic()
            if data:
                self._reader.feed(data)
                quiet_since, heard = now, True
            at_host = any(protocol.final_result(line) for line in self._reader.lines)
            if self._reader.prompt is None and (at_host or (not heard and now - start >= FIRST_ECHO)):
                self._reader.lines.clear()  # a shell answers Enter at once with a new prompt line
                raise ProtocolError(f"the device on {self.port} does not answer like a Zephyr shell "
                                    f"({'a result line' if at_host else 'silence'} for Ctrl-U and Enter; at_client "
                                    "answers so): open it in mode 'at' or 'auto'")
            partial = self._reader.visible
            if self._reader.prompt is None:
                if partial in shell_text.KNOWN_PROMPTS or (
                        now - quiet_since >= _QUIET and shell_text.looks_like_prompt(partial)):
                    self._reader.prompt = partial
            if self._reader.prompt is not None and partial == self._reader.prompt and (
                    partial in shell_text.KNOWN_PROMPTS or now - quiet_since >= _QUIET):
                break
            if now >= deadline:
                raise ShellTimeoutError("", timeout, self.port)
            if not data:
                self._read_wait()
        self._reader.keep_all = False
        self._reader.lines = [line for line in self._reader.lines if line[:1] in ("+", "%") or
                              re.search(shell_text.LOG_LINE, line)]
        self._take_lines()
        self._dirty = False

    def _read_wait(self) -> None:
        """Block briefly for the next byte (a read with the port's short timeout)."""
        data = self._read_some(wait=True)
        if data:
            self._reader.feed(data)

    # ------------------------------------------------------------ commands

    def check_command(self, text: str) -> None:
        """Refuse before sending what the shell cannot carry or its line buffer cannot hold."""
        line = shell_text.shell_line(text)
        size = len(line.encode("ascii"))
        if self.line_limit is not None and size > self.line_limit:
            raise ValidationError(shell_text.buffer_message(size, self.line_limit))

    def command(self, text: str, *, timeout: float | None = None) -> Response:
        """Send one AT command through `at` and wait for its output and the next prompt."""
        self.check_command(text)
        line = shell_text.shell_line(text)
        self._drain()
        base = self.timeout if timeout is None else timeout
        if self._dirty or self._reader.visible != self._reader.prompt:
            self._resync(base)
        budget = base + self.wire_seconds(2 * len(line) + RESPONSE_BUDGET)
        self._reader.begin(line)
        self._trace_line(">", text)
        try:
            self._write(shell_text.CLEAR_LINE + line.encode("ascii") + b"\r")
            deadline = time.monotonic() + budget
            while not self._reader.done:
                if time.monotonic() >= deadline:
                    raise ShellTimeoutError(text, budget, self.port)
                data = self._read_some()
                if data:
                    self._reader.feed(data)
        except BaseException:
            self._dirty = True  # out of step: the next command starts with a fresh prompt
            self._reader.begin("")
            try:
                self._write(shell_text.CLEAR_LINE)  # a line cut by Ctrl-C (maybe a key) must not stay typed
            except ATError:
                pass
            raise
        self._take_lines()
        return self._response(text, len(line))

    def _response(self, text: str, size: int) -> Response:
        output = self._reader.output()
        cut_at = self._reader.cut_at
        lines = [line for line in protocol.split_lines(output.encode("utf-8") + b"\n")
                 if not re.match(shell_text.LOG_LINE, line)]
        self._reader.begin("")  # nothing pending: what comes next is between commands
        for line in lines:
            self._trace_line("<", line)
        if cut_at is not None:
            self.line_limit = cut_at
            ran = [line for line in lines if protocol.final_result(line) is not None]
            if ran:
                raise ProtocolError(f"the shell cut the line for {shell_text.brief(text)} after {cut_at} bytes and ran what it "
                                    f"kept (the modem answered {ran[-1]}): raise CONFIG_SHELL_CMD_BUFF_SIZE "
                                    f"to at least {size + 1}, and check what is stored")
            raise ValidationError(shell_text.buffer_message(size, cut_at))
        info: list[str] = []
        for line in lines:
            failure = shell_text.shell_failure(line, text, size, self.port)
            if failure is not None:
                raise failure
            kind = protocol.classify(line, text)
            if kind is protocol.LineKind.URC:
                self.urcs.append(line)
            elif kind is protocol.LineKind.INFO:
                info.append(line)
            elif kind in (protocol.LineKind.OK, protocol.LineKind.ERROR):
                ok, code = protocol.final_result(line)  # type: ignore[misc]
                return Response(text, info, line.strip(), ok, code)
        raise ProtocolError(f"the shell printed no result for {shell_text.brief(text)}: {' | '.join(lines)[:120]!r}")

    # ------------------------------------------------------------ what the modem stores

    @staticmethod
    def stored_form(content: str) -> str:
        """The string parameter as the modem stores it after this link: line breaks become CR LF."""
        return shell_text.stored_by_shell(content)

    @staticmethod
    def explain_stored(sec_tag: int, cred_type: int, content: str, sha256: str) -> str | None:
        """Why the listed hash differs from what this link meant to store, when the reason is known."""
        if "\n" in content and sha256 == protocol.sha256_hex(shell_text.stored_without_unescape(content)):
            return (f"sec_tag {sec_tag} type {cred_type} now holds the text with a literal '\\n' for every line "
                    f"break (SHA-256 {sha256}): the shell firmware lacks CONFIG_AT_SHELL_UNESCAPE_LF; rebuild it "
                    "with CONFIG_AT_SHELL_UNESCAPE_LF=y or use at_client, and delete or rewrite that entry")
        return None
