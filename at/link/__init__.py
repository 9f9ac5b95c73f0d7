"""Links to an AT interface: one open serial port and the framing spoken over it.

`open_link(port, mode=...)` opens the port, picks the link for it (at_host, or an
application's AT shell; `at.link.detect`) and gets it in step. `SoC` depends only on
the interface every link keeps: `port`, `timeout`, `urcs`, `mode`,
`command(text, timeout=) -> Response`, `poll_urcs()`, `close()`, `is_open`,
`wire_seconds(nbytes)`; `at.link.stored` asks a link what it does to stored text.
"""
from __future__ import annotations

from .at_host import AtHostLink, Response, Trace
from .serial_port import SerialPort, open_serial

__all__ = ["open_link", "AtHostLink", "ShellLink", "Response", "Trace", "SerialPort", "open_serial"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from .shell import ShellLink

    Link = AtHostLink | ShellLink


def __getattr__(name: str) -> object:
    """`ShellLink` on first use: a kit running at_client never needs the shell's modules."""
    if name == "ShellLink":
        from .shell import ShellLink

        return ShellLink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_link(port: str, *, mode: str = "auto", baudrate: int = 115200, timeout: float = 10.0,
              trace: Trace | None = None, redact: bool = True, exclusive: bool = True, sync: bool = True) -> Link:
    """Open `port` and return a link in step with the modem (recovering a wedged at_host).

    `mode` is "at" (at_client), "shell" (an application's Zephyr shell with `at`) or
    "auto" (plain `AT` first; a kit that answers it never sees a shell byte). Raises
    `PortError` when the port cannot be opened and `ATTimeoutError` when nothing
    answers `AT` even after recovery; the port is closed again then.
    """
    from .detect import open_detected

    return open_detected(port, mode=mode, baudrate=baudrate, timeout=timeout, trace=trace, redact=redact,
                         exclusive=exclusive, sync=sync)
