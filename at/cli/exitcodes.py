"""The one map from library errors to exit codes, and the table README and `--help` show."""
from __future__ import annotations

from ..errors import (
    ATError,
    ATTimeoutError,
    CommandError,
    FirmwareError,
    FlashError,
    PortError,
    ProtocolError,
    ValidationError,
    VerificationError,
)

EXIT_OK = 0
EXIT_FAILURE = 1  # unexpected internal error (a bug: please report it)
EXIT_USAGE = 2
EXIT_VALIDATION = 3
EXIT_MODEM = 4  # the modem answered ERROR / +CME ERROR
EXIT_TIMEOUT = 5
EXIT_PORT = 6
EXIT_FLASH = 7
EXIT_VERIFY = 8  # the modem answered something unexpected, or stored something else
EXIT_SOME_KITS = 9  # a command on several kits: at least one failed
EXIT_CHANGES = 10  # plan: the kits differ from the manifest (apply declined: nothing changed)
EXIT_FIRMWARE = 11  # an at_client build could not be fetched or verified (cmng hex, -x)
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_FAILURE: "internal error (please report it)",
    EXIT_USAGE: "usage error (unknown command, bad or missing options)",
    EXIT_VALIDATION: "input refused before anything was sent (content, sec_tag, type, file)",
    EXIT_MODEM: "the modem refused the command (ERROR or +CME ERROR)",
    EXIT_TIMEOUT: "the modem did not answer in time",
    EXIT_PORT: "the serial port could not be opened, is busy, or went away",
    EXIT_FLASH: "flashing failed, or no way to flash",
    EXIT_VERIFY: "the modem answered unexpectedly or stored something else than was sent",
    EXIT_SOME_KITS: "several kits: some failed (each is reported)",
    EXIT_CHANGES: "plan: something would change (also apply when the question is declined)",
    EXIT_FIRMWARE: "at_client could not be fetched or verified (no network, not found, wrong checksum, cache)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

# Most specific first: the first match wins.
_BY_TYPE: tuple[tuple[type, int], ...] = (
    (ValidationError, EXIT_VALIDATION), (CommandError, EXIT_MODEM), (ATTimeoutError, EXIT_TIMEOUT),
    (PortError, EXIT_PORT), (FlashError, EXIT_FLASH), (FirmwareError, EXIT_FIRMWARE), (VerificationError, EXIT_VERIFY),
    (ProtocolError, EXIT_VERIFY), (ATError, EXIT_FAILURE),
)


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an exception (KeyboardInterrupt: 130, anything unknown: 1)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    for kind, code in _BY_TYPE:
        if isinstance(exc, kind):
            return code
    return EXIT_FAILURE


def table_text(indent: str = "  ") -> str:
    """The exit-code table as plain lines (the `--help` epilog and the README show this)."""
    return "\n".join(f"{indent}{code:>3}  {text}" for code, text in EXIT_CODES.items())


class UsageError(Exception):
    """A usage error (exit 2) that argparse cannot see, e.g. two options that exclude each other; one line."""
