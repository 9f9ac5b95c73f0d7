"""Which firmware answers on a port: at_client (at_host) or an application's AT shell.

`open_link(port, mode="auto")` (`open_detected` here) opens the port once and sends plain `AT` first. A kit
that answers it with a result line is at_client: it gets no shell bytes at all, and
the open port goes to the at_host link. A Zephyr shell echoes `AT`, prints
`AT: command not found` and its prompt, which is learnt here and handed to the shell
link together with the open port. Silence means at_client (perhaps stuck inside a
quote, which the at_host link recovers from in `open_sync`).
"""
from __future__ import annotations

import time

import serial

from .. import protocol
from ..errors import PortError, ProtocolError, ValidationError
from . import shell_text
from .at_host import AtHostLink, Trace
from .serial_port import SerialPort

MODES = ("auto", "at", "shell")
PROBE = b"AT\r\n"
PROBE_SECONDS = 0.25  # silence this long: at_client (it answers AT in milliseconds; a shell echoes at once)
ANSWER_SECONDS = 0.5  # once bytes came: time allowed for a result line or a shell's prompt
SHELL_SECONDS = 2.0  # once a shell showed itself: time allowed for its prompt

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from .shell import ShellLink

    Link = AtHostLink | ShellLink


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValidationError(f"unknown link mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


def probe(link: serial.SerialBase, baudrate: int, trace: Trace | None = None) -> tuple[str, str | None, bool]:
    """Send `AT` and tell from the answer: ("at", None, ok) or ("shell", prompt or None, False).

    `ok`: at_host answered OK, which is all `AtHostLink.open_sync` would check with an `AT` of its own.
    """
    if trace is not None:
        trace(">", "AT")
    try:
        link.write(PROBE)
        link.flush()
    except (serial.SerialException, OSError) as exc:
        raise PortError(f"cannot write to the port ({exc}): check the cable") from None
    start = time.monotonic()
    wire = (len(PROBE) + 128) * 10.0 / baudrate
    deadline = start + PROBE_SECONDS + wire
    reader = shell_text.ShellReader(keep_all=True)
    shell = False
    echoed = False  # some line came back (a shell echoes `AT`)
    quiet_since = start
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        try:
            data = link.read(max(1, link.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"the port went away while probing it ({exc})") from None
        now = time.monotonic()
        if data:
            quiet_since = now
            deadline = max(deadline, start + ANSWER_SECONDS)
            reader.feed(data)
            for line in reader.lines:
                echoed = True
                result = protocol.final_result(shell_text.strip_ansi(line))
                if result is not None:
                    if trace is not None:  # only the answer: other lines may be stale echoes holding a key
                        trace("<", line.strip())
                    return "at", None, result[0]
                if line.endswith(": command not found"):
                    shell = True
                    deadline = max(deadline, start + SHELL_SECONDS)
            reader.lines.clear()
        partial = reader.visible
        if partial in shell_text.KNOWN_PROMPTS or (
                (shell or echoed) and now - quiet_since >= 0.1 and shell_text.looks_like_prompt(partial)):
            return "shell", partial, False  # at_host never prints a prompt
    return ("shell", None, False) if shell else ("at", None, False)


def open_detected(port: str, *, mode: str = "auto", baudrate: int = 115200, timeout: float = 10.0,
                  trace: Trace | None = None, redact: bool = True, exclusive: bool = True,
                  sync: bool = True) -> Link:
    """`at.link.open_link`: the link for `mode` (in "auto" mode, the one that fits), in step with the modem."""
    check_mode(mode)
    options = dict(baudrate=baudrate, timeout=timeout, trace=trace, redact=redact, exclusive=exclusive)
    if mode == "shell":
        from .shell import ShellLink  # here: an at_client kit never needs the shell's modules

        return _shell_in_step(ShellLink(port, **options))
    serial_port = SerialPort(port, baudrate, exclusive)
    opened = time.monotonic()
    try:
        found, prompt, ok = probe(serial_port.raw, baudrate, trace) if mode == "auto" else ("at", None, False)
    except BaseException:
        serial_port.close()
        raise
    if found == "shell":
        from .shell import ShellLink

        return _shell_in_step(ShellLink(port, serial_port=serial_port, prompt=prompt, **options))
    link = AtHostLink(port, serial_port=serial_port, **options)
    link.mode = "at"  # type: ignore[attr-defined]
    if sync and not ok:  # the probe's OK already showed at_host's buffer empty: no second `AT`
        link.timeout = max(0.1, timeout - (time.monotonic() - opened))  # the probe's wait counts toward open
        try:
            link.open_sync()
        except BaseException:
            link.close()
            raise
        finally:
            link.timeout = timeout
    return link


def _shell_in_step(link: ShellLink) -> ShellLink:
    """`AT` through the shell's `at` command must answer OK (else: no AT shell); the port is closed on failure."""
    try:
        response = link.command("AT")
        if not response.ok:
            raise ProtocolError(f"the shell on {link.port} answers `at AT` with {response.final}: "
                                "is the modem library running in this application?")
        return link
    except BaseException:
        link.close()
        raise
