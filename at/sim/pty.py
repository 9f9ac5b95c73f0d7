"""Serve a simulated nRF91 on a real pseudo-terminal, so any serial tool can talk to it.

The pty is raw from the start (the default line discipline would echo and turn CR
into LF), and our own slave descriptor stays open, so a client closing the port
does not make the master fail with EIO.
"""
from __future__ import annotations

import os
import select
import threading
import time

from .link import Disconnected, Link, LinkOptions
from .modem import Modem

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from .link import FrontEnd


class PtyServer:
    def __init__(self, modem: Modem, front_end: FrontEnd, options: LinkOptions | None = None) -> None:
        import tty

        self.modem = modem
        self.link = Link(front_end, options)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()

    def stop(self) -> None:
        """Ask `serve_forever` to return (from another thread or a signal handler)."""
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def serve_forever(self) -> None:
        """Move bytes between the pty and the modem until `stop()` or a simulated unplug."""
        try:
            while not self._stop.is_set():
                wake = self.link.next_ready()
                timeout = None if wake is None else max(0.0, wake - time.monotonic())
                readable, _, _ = select.select([self._master, self._wake_r], [], [], timeout)
                if self._master in readable:
                    try:
                        data = os.read(self._master, 4096)
                    except OSError:  # EIO: no client right now
                        data = b""
                    if data:
                        self.link.write(data)
                while self.link.available():
                    os.write(self._master, self.link.read(4096))
        except Disconnected:
            pass  # the simulated kit was unplugged: close the pty under the client
        finally:
            self.link.close()
            self.close()
