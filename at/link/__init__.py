"""Links to an AT interface: one open serial port and the framing spoken over it.

`open_link(port, ...)` opens the port, picks the link for it and gets it in step;
`SoC` depends only on the interface every link keeps: `port`, `timeout`, `urcs`,
`command(text, timeout=) -> Response`, `poll_urcs()`, `close()`, `is_open`,
`wire_seconds(nbytes)`.
"""
from __future__ import annotations

from typing import Optional

from .at_host import AtHostLink, Response, Trace
from .serial_port import SerialPort, open_serial

__all__ = ["open_link", "AtHostLink", "Response", "Trace", "SerialPort", "open_serial"]


def open_link(port: str, *, baudrate: int = 115200, timeout: float = 10.0, trace: Optional[Trace] = None,
              redact: bool = True, exclusive: bool = True, sync: bool = True) -> AtHostLink:
    """Open `port` and return a link in step with the modem (recovering a wedged at_host).

    Raises `PortError` when the port cannot be opened and `ATTimeoutError` when nothing
    answers `AT` even after recovery; the port is closed again then.
    """
    link = AtHostLink(port, baudrate=baudrate, timeout=timeout, trace=trace, redact=redact, exclusive=exclusive)
    if sync:
        try:
            link.open_sync()
        except BaseException:
            link.close()
            raise
    return link
