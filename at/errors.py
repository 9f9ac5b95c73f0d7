"""Every error the library raises, under one base class `ATError`.

Kept in a module of its own so that every layer (protocol, transport, SoC, CLI)
can raise and catch the same types without importing each other.
"""
from __future__ import annotations

# code -> (meaning, advice); from Nordic's AT command reference for %CMNG.
CME_ERRORS: dict[int, tuple[str, str]] = {
    0: ("phone failure", "the command is not supported by this modem firmware; update it"),
    23: ("memory failure", "retry; if it persists, reboot the modem"),
    50: ("incorrect parameters", "check the sec_tag, type and content"),
    60: ("system error", "retry; if it persists, reboot the modem"),
    513: ("not found", "nothing is stored at that sec_tag/type"),
    514: ("no access", "that type cannot be read or written over AT (keys, PSKs, modem-owned types)"),
    515: ("memory full", "delete credentials you no longer use"),
    518: ("not allowed in active state",
          "take the modem offline first: AT+CFUN=4 (SoC.offline() does this)"),
    519: ("already exists", "the entry is protected or owned by the modem"),
    520: ("authentication failed", "the %XSUDO signature was rejected"),
    523: ("key generation failed", "%KEYGEN failed; check the sec_tag and that the modem is offline"),
    527: ("invalid content", "check the PEM format and that lines end in LF"),
    528: ("power-off warning active", "restore the supply voltage and reboot the modem"),
}


class ATError(Exception):
    """Base of every error raised by the `at` package."""


class ValidationError(ATError, ValueError):
    """Input was refused before anything was sent to the modem."""


class CommandError(ATError):
    """The modem answered a command with ERROR (or a numbered error)."""

    def __init__(self, command: str, final: str, code: int | None = None) -> None:
        self.command = command
        self.final = final
        self.code = code
        super().__init__(self._message())

    def _message(self) -> str:
        final = self.final if len(self.final) <= 80 else self.final[:80] + "..."
        return f"{_short(self.command)} failed: {final}"


class CMEError(CommandError):
    """`+CME ERROR: <code>`: carries the code, its meaning and advice for a person."""

    def __init__(self, command: str, final: str, code: int) -> None:
        self.meaning, self.advice = CME_ERRORS.get(code, ("unknown error", "see Nordic's AT command reference"))
        super().__init__(command, final, code)

    def _message(self) -> str:
        return f"{_short(self.command)} failed: +CME ERROR {self.code} ({self.meaning}): {self.advice}"


class ATTimeoutError(ATError, TimeoutError):
    """No final result line arrived in time."""

    def __init__(self, command: str, seconds: float) -> None:
        self.command = command
        self.seconds = seconds
        super().__init__(
            f"no answer to {_short(command)} within {seconds:.1f} s: is at_client (or another firmware "
            "with CONFIG_AT_HOST_LIBRARY) running, and is this the kit's AT port?"
        )


class AnswerCutError(ATTimeoutError):
    """An answer stopped without its final line: at_host's buffer cut it, or its command failed."""

    def __init__(self, command: str, received: int, buffer: int) -> None:
        self.command = command
        self.seconds = 0.0
        self.received = received
        ATError.__init__(
            self,
            f"the answer to {_short(command)} stopped after {received} bytes without a final line: at_host "
            f"cuts answers longer than its {buffer}-byte buffer (CONFIG_AT_HOST_CMD_MAX_LEN), and prints no "
            "final line when the modem library fails the command; nothing of it was used")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, after cleaning up; `detail` says what could not be restored (one line), if anything."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class PortError(ATError):
    """The serial port could not be opened, is busy, or went away."""


class ProtocolError(ATError):
    """The modem answered, but not in a form this library understands."""


class VerificationError(ATError):
    """What the modem stored is not what was sent."""


class FlashError(ATError):
    """Programming a hex file or resetting the kit failed."""


class FirmwareError(ATError):
    """A published at_client build could not be fetched or verified.

    One subclass per cause lives in `at.fetch_errors`, loaded only by what fetches (fewer classes to make
    on every cmng run); `at.errors.<name>` still finds them.
    """


class UnknownBoardError(ValidationError):
    """A board name the manifest does not know."""


def _short(command: str, limit: int = 60) -> str:
    """A command for an error message: never the whole content, which may be a key."""
    one_line = command.split("\n", 1)[0]
    if one_line.upper().startswith("AT%CMNG=0"):
        one_line = ",".join(one_line.split(",", 3)[:3]) + ",..."
    return one_line if len(one_line) <= limit else one_line[:limit] + "..."


class ModemFirmwareError(ValidationError):
    """The modem firmware cannot do what was asked; the command that needs it was not sent."""


_FETCH_ERRORS = frozenset({"NoNetworkError", "NotPublishedError", "ServerError", "RedirectError", "TruncatedError",
                           "ChecksumError", "DiskFullError", "CacheError", "NoBuildError"})


def __getattr__(name: str) -> type:
    """The causes of `FirmwareError`, from `at.fetch_errors` on first use (PEP 562)."""
    if name in _FETCH_ERRORS:
        from . import fetch_errors

        return getattr(fetch_errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
