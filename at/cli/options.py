"""Option groups any command can add, with range-checked types and both spellings.

Every underscore option also has its dash spelling (`--sec_tag` and `--sec-tag`);
numbers are checked by argparse, so a bad value is a usage error (exit 2) with one line.
"""
from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

DEFAULT_TIMEOUT = 10.0  # same as at.soc.DEFAULT_TIMEOUT; kept here so --help needs no serial import
DEFAULT_BAUDRATE = 115200


def _refused(message: str) -> Exception:
    """argparse's error for a value a type refuses (argparse is imported here: its parser is the one reporting)."""
    import argparse

    return argparse.ArgumentTypeError(message)


def spellings(*names: str) -> list[str]:
    """`--sec_tag` -> [`--sec_tag`, `--sec-tag`]; short options stay as they are."""
    out: list[str] = []
    for name in names:
        out.append(name)
        if name.startswith("--") and "_" in name:
            out.append(name.replace("_", "-"))
    return out


def int_range(low: int, high: int | None = None, what: str = "a number") -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text, 0) if text.lower().startswith("0x") else int(text)
        except ValueError:
            raise _refused(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f"{low} or more"
            raise _refused(f"{what} {value} is out of range: use {bound}")
        return value
    parse.__name__ = what  # argparse names the type in its messages
    return parse


def seconds(text: str) -> float:
    """A finite number of seconds above zero (rejects 0, -1, nan, inf)."""
    try:
        value = float(text)
    except ValueError:
        raise _refused(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):  # also false for nan
        raise _refused(f"{text} is not a finite number of seconds above 0")
    return value


def add_port_args(parser: argparse.ArgumentParser, many: bool = False) -> None:
    """SERIAL_PORT (or several for fleet commands): a device, COM port, pyserial URL, sim://NAME or auto."""
    text = ("serial port with the AT interface: a device path (/dev/ttyACM0, /dev/cu.usbmodem* on macOS), "
            "COM3, a pyserial URL, sim://NAME (a simulated kit) or auto")
    if many:
        parser.add_argument("ports", nargs="+", metavar="SERIAL_PORT", help=text + "; several kits at once")
    else:
        parser.add_argument("port", metavar="SERIAL_PORT", help=text)


def add_link_args(parser: argparse.ArgumentParser) -> None:
    """--timeout, --baudrate, -v, --mode and --json: every command that talks to a kit takes them."""
    group = parser.add_argument_group("link and output")
    group.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help="seconds to wait for an answer, on top of the time the bytes need (default: %(default)s)")
    group.add_argument("--baudrate", type=int_range(1, what="baud rate"), default=DEFAULT_BAUDRATE,
                       help="serial baud rate (default: %(default)s)")
    group.add_argument("-v", "--verbose", action="count", default=0,
                       help="-v shows AT traffic with keys and PSKs redacted; -vv shows everything")
    group.add_argument("--mode", choices=("auto", "at", "shell"), default="auto",
                       help="firmware on the port: at (at_client), shell (an application's Zephyr shell with the "
                            "'at' command, no flashing) or auto: plain AT first, then the shell (default: %(default)s)")
    add_json_arg(group)


def add_json_arg(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document on stdout (also on failure); messages go to stderr")


def add_sec_tag(parser: argparse.ArgumentParser, required: bool = True, default: int | None = None) -> None:
    from .. import credentials  # here: `cmng imei` takes no sec_tag and never loads the credential rules

    parser.add_argument(*spellings("--sec_tag"), dest="sec_tag", metavar="SEC_TAG", required=required, default=default,
                        type=int_range(0, credentials.MODEM_SEC_TAG_MAX, "sec_tag"),
                        help="security tag: 0..2147483647 for your own, up to 4294967295 for the modem's"
                             + (" (default: %(default)s)" if default is not None else ""))


def add_cred_type(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(*spellings("--cred_type"), dest="cred_type", metavar="CRED_TYPE", required=required,
                        type=int_range(0, 11, "cred_type"),
                        help="0 root CA, 1 client cert, 2 private key, 3 PSK, 4 PSK identity (5-11: modem-owned)")


def add_power_off(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(*spellings("--power_off"), dest="power_off", action="store_true",
                        help="put the modem in CFUN=0 if it is active, and leave it there; without it an active "
                             "modem is taken offline (CFUN=4) for the change and restored after")


def add_flash_args(parser: argparse.ArgumentParser) -> None:
    """-x / --program_app: run the command between flashing at_client and the user's application."""
    group = parser.add_argument_group("flashing (kits with a J-Link)")
    group.add_argument(*spellings("-s", "--serial_number"), dest="serial_number", metavar="JLINK_SERIAL_NUMBER",
                       help="serial number of the J-Link (also picks the kit for SERIAL_PORT auto)")
    group.add_argument(*spellings("-x", "--program_hex"), dest="program_hex", action="store_true",
                       help="begin by flashing the prebuilt at_client hex (Nordic's build for the kit, cached)")
    group.add_argument(*spellings("--program_app"), dest="program_app", metavar="PATH_TO_APP_HEX_FILE",
                       help="flash this application hex when done (also after a failure, if -x flashed at_client)")
    group.add_argument(*spellings("--at_client_hex"), dest="at_client_hex", metavar="PATH",
                       help="a self-built at_client hex for -x (default: Nordic's published build for the kit, "
                            "fetched and verified once: see 'cmng hex')")
    group.add_argument("--programmer", choices=("auto", "pynrfjprog", "nrfutil"), default="auto",
                       help="flashing backend (default: %(default)s)")
