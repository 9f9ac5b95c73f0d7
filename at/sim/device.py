"""Making a simulated device: a modem with its store, by name, once per process.

In-memory devices are kept per name for the life of the process, so a test can
reopen `sim://NAME?state=memory` and find what it wrote; `devices` also lets tests
look at what a modem stored or saw without going through the wire.
"""
from __future__ import annotations

import re

from .at_host import AtHost, AtHostFrontEnd, RxState
from .factory import factory_state
from .modem import Modem, ModemOptions
from .options import SimOptions
from .shell import ShellFrontEnd
from .store import FileStore, MemoryStore, Store, default_state_dir

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from .link import FrontEnd

_memory: dict[str, MemoryStore] = {}
devices: dict[str, Modem] = {}  # the last modem opened under each name


def check_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name or ""):
        raise ValueError(f"bad simulated device name {name!r}: use letters, digits, '.', '_' or '-' "
                         "(e.g. sim://demo)")
    return name


def open_store(name: str, options: SimOptions) -> Store:
    flavour = options.modem.flavour

    def factory() -> dict:
        return factory_state(name, flavour)

    if options.state == "memory":
        if name not in _memory:
            _memory[name] = MemoryStore(factory)
        return _memory[name]
    return FileStore(options.state_dir() or default_state_dir(), name, factory)


def make_modem(name: str, options: SimOptions | None = None) -> Modem:
    options = options or SimOptions()
    check_name(name)
    modem = Modem(name, open_store(name, options), ModemOptions(**vars(options.modem)))
    devices[name] = modem
    return modem


# What a dirty boot leaves on the line: boot text cut mid-line, with no line end.
DIRTY_BOOT_NOISE = b"\x00\xfe*** Booting nRF Connect SDK v2.9.0-77"


def make_front_end(modem: Modem, options: SimOptions | None = None) -> FrontEnd:
    """The one place that picks what frames bytes for `modem`: at_host, or the Zephyr shell's `at` command."""
    options = options or SimOptions()
    if options.app == "shell":
        return ShellFrontEnd(modem, options.shell)
    fe = options.front_end
    buffer, inside = modem.store.rx_state()
    state = RxState(bytearray(buffer), inside)

    def save(rx: RxState) -> None:
        modem.store.set_rx_state(bytes(rx.buffer), rx.inside_quotes)

    return AtHostFrontEnd(modem.execute, AtHost(state, fe.termination), save=save, fail=fe.fail,
                          boot_noise=DIRTY_BOOT_NOISE if fe.dirty_boot else b"")
