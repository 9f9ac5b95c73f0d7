"""Which firmware answers on a port: at_client (at_host) or an application's AT shell.

`open_link(port, mode="auto")` opens the port once and sends plain `AT` first. A kit
that answers it with a result line is at_client: it gets no shell bytes at all, and
the open port goes to the at_host link. A Zephyr shell echoes `AT`, prints
`AT: command not found` and its prompt, which is learnt here and handed to the shell
link together with the open port. Silence means at_client (perhaps stuck inside a
quote, which the at_host link knows how to recover from).
"""
from __future__ import annotations

import time
from typing import Optional, Union

import serial

from .. import protocol
from ..errors import CommandError, PortError, ProtocolError, ValidationError
from ..transport import Trace, Transport, open_serial
from . import shell_text
from .shell import ShellLink

MODES = ("auto", "at", "shell")
PROBE = b"AT\r\n"
PROBE_SECONDS = 0.5  # at_client answers AT in milliseconds; a shell echoes at once
SHELL_SECONDS = 2.0  # once a shell showed itself: time allowed for its prompt

Link = Union[Transport, ShellLink]


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValidationError(f"unknown link mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


def probe(link: serial.SerialBase, baudrate: int) -> tuple[str, Optional[str]]:
    """Send `AT` and tell from the answer: ("at", None) or ("shell", prompt or None)."""
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
            reader.feed(data)
            for line in reader.lines:
                echoed = True
                if protocol.final_result(shell_text.strip_ansi(line)) is not None:
                    return "at", None
                if line.endswith(": command not found"):
                    shell = True
                    deadline = max(deadline, start + SHELL_SECONDS)
            reader.lines.clear()
        partial = reader.visible
        if partial in shell_text.KNOWN_PROMPTS or (
                (shell or echoed) and now - quiet_since >= 0.1 and shell_text.looks_like_prompt(partial)):
            return "shell", partial  # at_host never prints a prompt
    return ("shell", None) if shell else ("at", None)


def open_link(port: str, *, mode: str = "auto", baudrate: int = 115200, timeout: float = 10.0,
              trace: Optional[Trace] = None, redact: bool = True, exclusive: bool = True) -> Link:
    """Open `port` with the link for `mode` (in "auto" mode, find out which one fits), in step with the modem."""
    check_mode(mode)
    options = dict(baudrate=baudrate, timeout=timeout, trace=trace, redact=redact, exclusive=exclusive)
    if mode != "auto":
        return _in_step(Transport(port, **options) if mode == "at" else ShellLink(port, **options))
    raw = open_serial(port, baudrate, exclusive)
    try:
        found, prompt = probe(raw, baudrate)
    except BaseException:
        try:
            raw.close()
        except (serial.SerialException, OSError):
            pass
        raise
    if found == "shell":
        return _in_step(ShellLink(port, serial_port=raw, prompt=prompt, **options))
    return _in_step(Transport(port, serial_port=raw, **options))


def _in_step(link: Link) -> Link:
    """Get in step: a first `AT` may meet leftovers in the modem's buffer and fail; the port is closed on failure."""
    try:
        last: Optional[Exception] = None
        for _ in range(3):
            response = link.command("AT")
            if response.ok:
                return link
            last = CommandError("AT", response.final, response.code)
        raise ProtocolError(f"the device on {link.port} does not answer AT with OK ({last}): "
                            "is this the AT port, running at_client (or an application with the AT shell)?")
    except BaseException:
        link.close()
        raise
