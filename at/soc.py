"""`SoC`: an nRF91 modem as a Python object.

Typed results (`Credential`), errors that say what to do (`CMEError` with the
meaning and advice for its code), and the rules of %CMNG enforced before a byte
is sent. Below it sits one link (`at.link.open_link`); above it, the CLI or a user's script.
"""
from __future__ import annotations

import re

from . import protocol
from .errors import ATError, CMEError, CommandError, Interrupted, ProtocolError, ValidationError
from .lazylog import getLogger
from .link import Response, Trace, open_link, stored

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from . import credentials
    from .attest import Attestation
    from .cmng import Credential
    from .keygen import KeygenResult

log = getLogger(__name__)

CFUN_MODE_POWER_OFF = 0
CFUN_MODE_NORMAL = 1
CFUN_MODE_RX_ONLY = 2
CFUN_MODE_OFFLINE = 4
CFUN_MODE_OFFLINE_KEEP_UICC = 44
CFUN_MODES = frozenset({0, 1, 2, 4, 20, 21, 30, 31, 40, 41, 44})
# Modes in which %CMNG may write and delete.
CFUN_INACTIVE_MODES = frozenset({CFUN_MODE_POWER_OFF, CFUN_MODE_OFFLINE, CFUN_MODE_OFFLINE_KEEP_UICC})

DEFAULT_TIMEOUT = 10.0


class SoC:
    """An nRF91 reached over a serial port (a path, a COM port, or any pyserial URL).

    Opening gets in step with the modem (a half-sent command left in at_host's buffer
    by a killed run is emptied, never committed) and turns on numeric errors
    (AT+CMEE=1); closing restores the CMEE setting it found. `mode`: "at" (at_client),
    "shell" (an application's Zephyr shell with `at`) or "auto"; `soc.mode` says which.
    """

    def __init__(self, port: str, *, mode: str = "auto", baudrate: int = 115200, timeout: float = DEFAULT_TIMEOUT,
                 trace: Trace | None = None, redact: bool = True, exclusive: bool = True) -> None:
        self.port = port
        self._link = open_link(port, mode=mode, baudrate=baudrate, timeout=timeout, trace=trace,
                               redact=redact, exclusive=exclusive)
        self.mode: str = self._link.mode
        self.stored_note: str | None = None  # set by a write whose stored text differs from the content
        self._cmee_before: int | None = None
        try:
            self._enable_error_codes()
        except BaseException:
            self._link.close()
            raise

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> SoC:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Restore AT+CMEE as it was and close the port. Safe to call twice."""
        if not self._link.is_open:
            return
        try:
            if self._cmee_before is not None and self._cmee_before != 1:
                self._link.command(f"AT+CMEE={self._cmee_before}", timeout=2.0)
        except ATError as exc:
            log.debug("could not restore AT+CMEE: %s", exc)
        finally:
            self._link.close()

    def _enable_error_codes(self) -> None:
        try:
            lines = self.command("AT+CMEE?")
            value = protocol.info_params(self._expect_line(lines, "+CMEE", "AT+CMEE?"), "+CMEE")[0]
            self._cmee_before = value if value in (0, 1) else 0
        except (ATError, ValueError, IndexError, TypeError) as exc:
            log.debug("AT+CMEE? not understood (%s); assuming 0", exc)
            self._cmee_before = 0
        if self._cmee_before != 1:
            self.command("AT+CMEE=1")

    # ------------------------------------------------------------ raw commands

    @property
    def urcs(self) -> list[str]:
        """Unsolicited result codes received so far, oldest first (also those since the last command)."""
        return self._link.poll_urcs()

    def clear_urcs(self) -> None:
        self._link.urcs.clear()

    def response(self, text: str, *, timeout: float | None = None) -> Response:
        """Send any AT command and return its `Response` without raising on ERROR."""
        return self._link.command(text.strip(), timeout=timeout)

    def command(self, text: str, *, timeout: float | None = None) -> list[str]:
        """Send any AT command; return its information lines, or raise `CMEError`/`CommandError`."""
        return self.check(self.response(text, timeout=timeout))

    @staticmethod
    def check(response: Response) -> list[str]:
        """The information lines of a successful response; an explained error for a failed one."""
        if not response.ok:
            if response.code is not None and response.final.startswith("+CME"):
                raise CMEError(response.command, response.final, response.code)
            raise CommandError(response.command, response.final, response.code)
        return response.lines

    query_modem = command

    @staticmethod
    def _expect_line(lines: list[str], prefix: str | None, command: str) -> str:
        for line in lines:
            if prefix is None or line.upper().startswith(prefix + ":"):
                return line
        raise ProtocolError(f"{command} answered without a {prefix or 'value'} line: {lines!r}")

    def _single_param(self, command: str, prefix: str) -> protocol.Param:
        line = self._expect_line(self.command(command), prefix, command)
        try:
            return protocol.info_params(line, prefix)[0]
        except (ValueError, IndexError):
            raise ProtocolError(f"cannot parse the answer to {command}: {line!r}") from None

    # ------------------------------------------------------------ identity

    def get_imei(self) -> str:
        """The IMEI (AT+CGSN=1), checked: 15 digits with a valid Luhn check digit.

        Only a `+CGSN: "<IMEI>"` line counts; banner or noise lines around it are ignored.
        """
        lines = self.command("AT+CGSN=1")
        seen = []
        for line in lines:
            match = re.fullmatch(r'\s*\+CGSN:\s*"?(\d{15})"?\s*', line, re.I)
            if match and protocol.is_valid_imei(match.group(1)):
                return match.group(1)
            if line.upper().startswith("+CGSN"):
                seen.append(line.strip()[:40])
        if seen:
            raise ProtocolError(f"the modem reported {seen[0]!r}, which is not a valid IMEI")
        raise ProtocolError("AT+CGSN=1 answered without a +CGSN line holding an IMEI")

    def _bare_value(self, command: str, form: str) -> str:
        """The one line of `command`'s answer that has the expected form, never a banner."""
        lines = [line.strip() for line in self.command(command)]
        for line in lines:
            if re.fullmatch(form, line):
                return line
        tokens = [line for line in lines if re.fullmatch(r"[\x21-\x7e]{1,64}", line) and line != "Ready"]
        if tokens:
            return tokens[-1]
        raise ProtocolError(f"{command} answered without a value: {[line[:40] for line in lines]!r}")

    def get_manufacturer_id(self) -> str:
        return self._bare_value("AT+CGMI", r"Nordic Semiconductor.*")

    def get_model(self) -> str:
        """E.g. `nRF9151-LACA`."""
        return self._bare_value("AT+CGMM", r"nRF91\w*(-\w+)?")

    def get_firmware_version(self) -> str:
        """E.g. `mfw_nrf91x1_2.0.2`."""
        return self._bare_value("AT+CGMR", r"mfw[\w.+-]*")

    def get_functional_mode(self) -> int:
        mode = self._single_param("AT+CFUN?", "+CFUN")
        if not isinstance(mode, int):
            raise ProtocolError(f"AT+CFUN? answered {mode!r}, not a number")
        return mode

    def set_functional_mode(self, mode: int) -> None:
        if mode not in CFUN_MODES:
            raise ValidationError(f"CFUN mode {mode} does not exist: use one of {sorted(CFUN_MODES)}")
        self.command(f"AT+CFUN={mode}")

    def offline(self, mode: int = CFUN_MODE_OFFLINE) -> Offline:
        """Take an active modem offline for a `with` block and restore its mode after, also on error.

        `with soc.offline() as before:` gives the mode found. A modem already inactive is left alone.
        """
        return Offline(self, mode)

    def _restore_after_interrupt(self, before: int, mode: int) -> None:
        """Ctrl-C inside `offline()`: put CFUN back, or raise `Interrupted` saying it could not."""
        try:
            self.set_functional_mode(before)
        except (ATError, KeyboardInterrupt) as exc:
            reason = "interrupted again" if isinstance(exc, KeyboardInterrupt) else str(exc)
            raise Interrupted(f"interrupted: the modem may still be offline (CFUN={mode}); restoring CFUN={before} "
                              f"failed ({reason}): run 'AT+CFUN={before}' or reset the kit") from None

    # ------------------------------------------------------------ credentials

    def list_credentials(self, sec_tag: int | None = None,
                         cred_type: int | None = None) -> list[Credential]:
        """Credentials stored, optionally filtered by sec_tag and/or type. See `at.cmng`."""
        from . import cmng  # %CMNG on first use: `cmng imei` never needs it

        return cmng.list_credentials(self, sec_tag, cred_type)

    def read_credential(self, sec_tag: int, cred_type: int) -> str:
        """The content exactly as stored (PEM newlines included). Types 0 and 4 only."""
        from . import cmng  # %CMNG on first use: `cmng imei` never needs it

        return cmng.read_credential(self, sec_tag, cred_type)

    def write_credential(self, sec_tag: int, cred_type: int, content: str | bytes | credentials.Prepared,
                         passwd: str | None = None, verify: bool = True) -> Credential:
        """Validate, write, and (by default) verify by SHA-256 from the list output.

        `content` is text or bytes, validated here, or a `credentials.Prepared` from
        `at.credentials.prepare()`, validated already and taken as-is.

        Returns the credential as now listed. Raises `ValidationError` before
        sending anything that the modem would refuse or mangle, `CMEError` when the
        modem refuses, and `VerificationError` when the stored hash differs.
        """
        from . import cmng  # %CMNG on first use: `cmng imei` never needs it

        return cmng.write_credential(self, sec_tag, cred_type, content, passwd, verify)

    def stored_sha256(self, text: str) -> str:
        """The SHA-256 the modem lists for `text` written over this link (the AT shell: CRLF line endings)."""
        return protocol.sha256_hex(stored.stored_form(self._link, text))

    def delete_credential(self, sec_tag: int, cred_type: int) -> None:
        from . import cmng

        cmng.delete_credential(self, sec_tag, cred_type)

    # ------------------------------------------------------------ keys born in the modem

    def keygen(self, sec_tag: int, subject: str | None = None, key_usage: str | None = None) -> KeygenResult:
        """%KEYGEN at `sec_tag` (type 2), offline, CFUN restored; the checked CSR. See `at.keygen`."""
        from . import keygen

        return keygen.generate(self, sec_tag, subject=subject, key_usage=key_usage)

    def attest(self) -> Attestation:
        """%ATTESTTOKEN: the device UUID, device type and firmware UUID, and the raw token. See `at.attest`."""
        from . import attest

        return attest.attest(self)


class Offline:
    """`SoC.offline()`'s context manager (a class: `contextlib` would cost every cmng run ~1 ms to import)."""

    def __init__(self, soc: SoC, mode: int) -> None:
        self._soc = soc
        self._mode = mode
        self._before: int | None = None  # the mode to restore; None when nothing was changed

    def __enter__(self) -> int:
        before = self._soc.get_functional_mode()
        if before in CFUN_INACTIVE_MODES:
            return before
        try:
            self._soc.set_functional_mode(self._mode)
        except KeyboardInterrupt:
            self._soc._restore_after_interrupt(before, self._mode)
            raise
        self._before = before
        return before

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if self._before is None:
            return False
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            self._soc._restore_after_interrupt(self._before, self._mode)
        else:  # after success or any other error; a failure to restore is raised in the error's place
            self._soc.set_functional_mode(self._before)
        return False


def __getattr__(name: str) -> object:
    """`Credential` and `CredType`, still importable from here, loaded on first use (PEP 562)."""
    if name == "Credential":
        from .cmng import Credential

        return Credential
    if name == "CredType":
        from .credentials import CredType

        return CredType
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SoC", "Credential", "Offline"]
