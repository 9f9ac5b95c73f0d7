"""What every link over one serial port shares: its lifecycle (one port, closed once, usable in `with`)."""
from __future__ import annotations

from .serial_port import SerialPort


class PortLink:
    """The lifecycle half of a link; the framing (`command`, `poll_urcs`, ...) is the subclass's."""

    _port: SerialPort

    def close(self) -> None:
        self._port.close()

    @property
    def is_open(self) -> bool:
        return self._port.is_open

    @property
    def serial(self) -> SerialPort:
        return self._port

    def __enter__(self) -> PortLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
