"""pyserial URL handler: `serial.serial_for_url("sim://NAME?options")`.

`import at` appends `at.sim` to `serial.protocol_handler_packages`, so any code
that opens ports with `serial_for_url` (ours, or a user's) can reach a simulated
nRF91. Options are listed in `at.sim.options`. Modelled on pyserial's protocol_loop.
"""
from __future__ import annotations

import threading
import time
import urllib.parse

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, to_bytes

from .device import make_front_end, make_modem
from .link import Disconnected, Link
from .options import parse_options


def parse_url(url: str) -> tuple[str, dict[str, str]]:
    """`sim://demo?baud=9600` -> ("demo", {"baud": "9600"})."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "sim":
        raise SerialException(f"expected a sim:// URL, got {url!r}")
    name = parts.netloc or parts.path.strip("/")
    query = {key: values[-1] for key, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}
    return name, query


class Serial(SerialBase):
    """A simulated nRF91 behind at_host, as a pyserial port."""

    BAUDRATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000)

    def __init__(self, *args, **kwargs) -> None:
        self._sim_link = None
        # The link's state is shared with writers in other threads: `_lock` guards it, and a write
        # rings `_bell` (a lock held while nobody rang) to wake a read waiting for bytes. A bare lock
        # is the cheapest wait Python has; a fleet of kits waits on it several times a command.
        self._lock = threading.Lock()
        self._bell = threading.Lock()
        self._bell.acquire()
        super().__init__(*args, **kwargs)

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        try:
            name, query = parse_url(self.portstr)
            options = parse_options(query)
            self.modem = make_modem(name, options)
        except ValueError as exc:
            raise SerialException(f"could not open port {self.portstr}: {exc}") from None
        self.front_end = make_front_end(self.modem, options)
        self._sim_link = Link(self.front_end, options.link)
        self.is_open = True

    def close(self) -> None:
        self.is_open = False
        if self._sim_link is not None:
            self._sim_link.close()  # at_host keeps a half-received command, as the firmware does
        self._sim_link = None

    def from_url(self, url: str) -> str:
        parse_url(url)
        return url

    def _reconfigure_port(self) -> None:
        """Nothing to configure: the simulated wire takes any setting."""

    def _require(self) -> Link:
        if not self.is_open or self._sim_link is None:
            raise PortNotOpenError()
        return self._sim_link

    @property
    def in_waiting(self) -> int:
        try:
            return self._require().available()
        except Disconnected as exc:
            raise SerialException(f"device reports readiness to read but returned no data ({exc})") from None

    def read(self, size: int = 1) -> bytes:
        link = self._require()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        data = b""
        bell = self._bell
        while True:
            bell.acquire(False)  # forget an old ring: a write after this point rings again
            with self._lock:
                try:
                    data += link.read(size - len(data))
                except Disconnected as exc:
                    raise SerialException(f"device reports readiness to read but returned no data ({exc})") from None
                wake = link.next_ready()
            if len(data) >= size:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            # wait for the next scheduled byte, the deadline, or a write from another thread
            until = deadline if wake is None or (deadline is not None and deadline < wake) else wake
            if until is None:
                bell.acquire()
            elif until > now:
                bell.acquire(True, until - now)
        return data

    def write(self, data: bytes) -> int:
        link = self._require()
        payload = to_bytes(data)
        with self._lock:
            try:
                link.write(payload)
            except Disconnected as exc:
                raise SerialException(f"write failed: {exc}") from None
        if self._bell.locked():
            try:
                self._bell.release()  # wake a read waiting in another thread
            except RuntimeError:  # rung by another writer meanwhile
                pass
        return len(payload)

    def flush(self) -> None:
        """Wait until what was written has crossed the emulated wire, as a UART's flush does.

        Only more writes can move that time, and only later: a plain sleep until it, checked again."""
        link = self._require()
        while True:
            remaining = link.input_done - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(remaining)

    def reset_input_buffer(self) -> None:
        self._require().reset_input()

    def reset_output_buffer(self) -> None:
        self._require()

    @property
    def out_waiting(self) -> int:
        return 0

    def _update_break_state(self) -> None:
        self._require()

    def _update_rts_state(self) -> None:
        """RTS is ignored, as J-Link OB does."""

    def _update_dtr_state(self) -> None:
        """DTR is ignored."""

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True
