"""A simulated nRF91 modem: one command text in, the lines it answers out (`Modem.execute`).

Pure state machine: no clocks, no threads, no files of its own (the credential
store is handed in). Framing bytes into commands is the front end's job
(`at.sim.at_host`), timing and faults the link's (`at.sim.link`). Behaviour follows
../shared/spec/nrf91-wire.md.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from .. import protocol
from . import firmware
from .store import Store

CFUN_MODES = (0, 1, 2, 4, 20, 21, 30, 31, 40, 41, 44)
ACTIVE_MODES = frozenset({1, 2, 21})
MODEM_OWNED_MIN = 4294967292
USER_TAG_LIMIT = 4294967295
PEM_TYPES = (0, 1, 2)
WRITABLE_TYPES = (0, 1, 2, 3, 4)
READABLE_TYPES = (0, 4)

# Default firmware: new enough for everything (at.sim.firmware); device_type: the %ATTESTTOKEN code.
FLAVOURS = {
    "nrf9160": {"model": "nRF9160-SICA", "revision": "mfw_nrf9160_1.3.5", "device_type": 3},
    "nrf91x1": {"model": "nRF9151-LACA", "revision": "mfw_nrf91x1_2.0.2", "device_type": 6},
}

BANNER = (b"*** Booting nRF Connect SDK v2.9.0-7787b2649840 ***\r\n"
          b"*** Using Zephyr OS v3.7.99-1f8f3dc29142 ***\r\n"
          b"The AT host sample started\r\nReady\r\n")

_COMMANDS = frozenset({"+CMEE", "+CFUN", "+CGSN", "+CGMI", "+CGMM", "+CGMR",
                       "%CMNG", "%XMODEMUUID", "%ATTESTTOKEN", "%KEYGEN"})

URC_BEFORE = '+CEREG: 2,"B4DC","000AE520",9'
URC_INSIDE = '%XTIME: "0A","42112151212280","01"'
URC_AFTER = "%CESQ: 54,2,18,2"


@dataclass
class ModemOptions:
    """Knobs of the modem itself (timing and link faults live in `LinkOptions`)."""

    flavour: str = "nrf91x1"
    cmee: int = 0  # AT+CMEE at power-on
    echo: bool = False  # echo each command line back, like a terminal would
    urcs: bool = False  # emit URCs before, inside and after every response
    zero_sha: bool = False  # old firmware: list prints an all-zero placeholder hash
    mfw: str | None = None  # AT+CGMR, e.g. mfw_nrf9160_1.2.3 (None: the flavour's default)
    legacy_csr: bool = False  # %KEYGEN CSRs carry ecdsa-with-SHA256 with a NULL parameter
    crlf527: bool = False  # refuse CRLF PEM with +CME ERROR: 527 (seen on one 2.0.2 report)
    keygen_fail: bool = False  # %KEYGEN fails with +CME ERROR: 523
    bad_digest: bool = False  # fault: the %KEYGEN COSE digest does not match the CSR sent


def imei_for(name: str) -> str:
    """A stable, valid (Luhn) IMEI for a device name: TAC 35265610 + 6 digits + check digit."""
    digest = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    body = "35265610" + f"{digest % 1_000_000:06d}"
    return body + str(protocol.luhn_check_digit(body))


class Modem:
    """Feed it what the host writes (`receive`), get back what the modem would answer."""

    def __init__(self, name: str, store: Store, options: ModemOptions | None = None) -> None:
        self.name = name
        self.store = store
        self.options = options or ModemOptions()
        if self.options.flavour not in FLAVOURS:
            raise ValueError(f"unknown firmware flavour {self.options.flavour!r}: use one of {sorted(FLAVOURS)}")
        self.flavour = FLAVOURS[self.options.flavour]
        self.revision = self.options.mfw or self.flavour["revision"]
        if firmware.parse_mfw(self.revision)[0] != self.options.flavour:
            raise ValueError(f"firmware {self.revision} does not run on the {self.options.flavour} flavour")
        self.cmee = self.options.cmee
        self.imei = imei_for(name)
        self.commands: list[str] = []  # every command executed, for tests that check what the modem saw

    def execute(self, text: str) -> list[str]:
        """Run one command as `nrf_modem_at_cmd` would; return the lines the modem answers.

        This is the modem itself: at_host (or the AT shell) is the front end that
        frames bytes into commands and lines back into bytes. Information lines
        come first, the final line (`OK`, `ERROR`, `+CME ERROR: n`) last; URCs and
        echo are included when those options are on. A blank command answers nothing.
        """
        text = text.strip()
        if not text:
            return []
        self.commands.append(text)
        lines: list[str] = [text] if self.options.echo else []
        try:
            info, final = self._dispatch(text)
        except _Error as err:
            info, final = [], err.render(self.cmee)
        if self.options.urcs:
            lines.append(URC_BEFORE)
            if info:
                info = info[:1] + [URC_INSIDE] + info[1:]
        lines += info + [final]
        if self.options.urcs:
            lines.append(URC_AFTER)
        return lines

    # ------------------------------------------------------------ commands

    def _dispatch(self, text: str) -> tuple[list[str], str]:
        if text[:2].upper() != "AT":
            raise _Error(None)
        body = text[2:]
        if body == "":
            return [], "OK"
        match = re.fullmatch(r"([+%][A-Za-z0-9]+)(=\?|\?|=(.*))?", body, re.S)
        if not match:
            raise _Error(None)
        name, suffix, args = match.group(1).upper(), match.group(2) or "", match.group(3)
        if name not in _COMMANDS:
            raise _Error(None)
        handler = getattr(self, "_cmd_" + name[1:].lower())
        if args is not None:
            try:
                params = protocol.parse_params(args)
            except ValueError:
                raise _Error(None) from None
        else:
            params = []
        return handler("=" if args is not None else suffix, params)

    def _cmd_cmee(self, suffix: str, params: list) -> tuple[list[str], str]:
        if suffix == "?":
            return [f"+CMEE: {self.cmee}"], "OK"
        if suffix == "=?":
            return ["+CMEE: (0,1)"], "OK"
        if suffix == "=" and params in ([0], [1]):
            self.cmee = params[0]
            return [], "OK"
        raise _Error(None)

    def _cmd_cfun(self, suffix: str, params: list) -> tuple[list[str], str]:
        if suffix == "?":
            return [f"+CFUN: {self.store.cfun()}"], "OK"
        if suffix == "=?":
            return ["+CFUN: (0,1,4,20,21,30,31,40,41,44)"], "OK"
        if suffix == "=" and len(params) == 1 and params[0] in CFUN_MODES:
            self.store.set_cfun(params[0])
            return [], "OK"
        raise _Error(None)

    def _cmd_cgsn(self, suffix: str, params: list) -> tuple[list[str], str]:
        kind = 0 if suffix == "" else (params[0] if suffix == "=" and len(params) == 1 else None)
        if kind == 0:
            return [self.imei], "OK"
        if kind == 1:
            return [f'+CGSN: "{self.imei}"'], "OK"
        if kind == 2:
            return [f'+CGSN: "{self.imei[:14]}12"'], "OK"
        if kind == 3:
            return ['+CGSN: "12"'], "OK"
        raise _Error(None)

    def _cmd_cgmi(self, suffix: str, params: list) -> tuple[list[str], str]:
        return self._bare(suffix, "Nordic Semiconductor ASA")

    def _cmd_cgmm(self, suffix: str, params: list) -> tuple[list[str], str]:
        return self._bare(suffix, self.flavour["model"])

    def _cmd_cgmr(self, suffix: str, params: list) -> tuple[list[str], str]:
        return self._bare(suffix, self.revision)

    @staticmethod
    def _bare(suffix: str, value: str) -> tuple[list[str], str]:
        if suffix:
            raise _Error(None)
        return [value], "OK"

    # ------------------------------------------------------------ keys born in the modem (at.sim.keygen)

    def _keys(self, command: str, suffix: str, params: list) -> tuple[list[str], str]:
        from . import keygen  # imported on first use: it needs cryptography

        try:
            return getattr(keygen, command)(self, suffix, params)
        except keygen.Refused as exc:
            raise _Error(exc.code) from None

    _cmd_keygen = functools.partialmethod(_keys, "keygen")
    _cmd_attesttoken = functools.partialmethod(_keys, "attesttoken")
    _cmd_xmodemuuid = functools.partialmethod(_keys, "xmodemuuid")

    # ------------------------------------------------------------ %CMNG

    def _cmd_cmng(self, suffix: str, params: list) -> tuple[list[str], str]:
        if suffix != "=" or not params or not isinstance(params[0], int):
            raise _Error(None)
        opcode, rest = params[0], params[1:]
        if opcode == 1:
            return self._cmng_list(rest), "OK"
        if opcode not in (0, 2, 3) or len(rest) < 2 or not all(isinstance(v, int) for v in rest[:2]):
            raise _Error(50)
        tag, kind = rest[0], rest[1]
        if not 0 <= tag <= USER_TAG_LIMIT or not 0 <= kind <= 11:
            raise _Error(50)
        if opcode == 2:
            return self._cmng_read(tag, kind), "OK"
        if self.store.cfun() in ACTIVE_MODES:
            raise _Error(518)
        if opcode == 3:
            self._cmng_delete(tag, kind)
        else:
            self._cmng_write(tag, kind, rest[2:])
        return [], "OK"

    def _sha(self, content: str) -> str:
        zero = self.options.zero_sha or firmware.version_of(self.revision) < firmware.SHA
        return protocol.ZERO_SHA if zero else protocol.sha256_hex(content)

    def _cmng_list(self, filters: list) -> list[str]:
        if len(filters) > 2 or (filters and not isinstance(filters[0], int)):
            raise _Error(50)
        tag = filters[0] if filters else None
        kind = filters[1] if len(filters) > 1 else None
        return [f'%CMNG: {t},{k},"{self._sha(c)}"' for (t, k), c in sorted(self.store.credentials().items())
                if (tag is None or t == tag) and (kind is None or k == kind)]

    def _cmng_read(self, tag: int, kind: int) -> list[str]:
        content = self.store.credentials().get((tag, kind))
        if content is None:
            raise _Error(513)
        if kind not in READABLE_TYPES:
            raise _Error(514)
        return [f'%CMNG: {tag},{kind},"{self._sha(content)}","{content}"']

    def _cmng_delete(self, tag: int, kind: int) -> None:
        if tag >= MODEM_OWNED_MIN:
            raise _Error(519)
        if not self.store.delete(tag, kind):
            raise _Error(513)

    def _cmng_write(self, tag: int, kind: int, args: list) -> None:
        if not args or not isinstance(args[0], str) or len(args) > 2:
            raise _Error(50)
        content = args[0]
        if tag >= MODEM_OWNED_MIN:
            raise _Error(519)
        if kind not in WRITABLE_TYPES:
            raise _Error(514)
        if not content:
            raise _Error(527)
        if kind in PEM_TYPES:
            if "-----BEGIN" not in content or "-----END" not in content:
                raise _Error(527)
            if "\r\n" in content and self.options.crlf527:
                raise _Error(527)
        elif kind == 3 and (len(content) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", content)):
            raise _Error(527)
        self.store.put(tag, kind, content)


class _Error(Exception):
    """A failed command: code None renders as plain ERROR, a number per AT+CMEE."""

    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code

    def render(self, cmee: int) -> str:
        if self.code is None or cmee == 0:
            return "ERROR"
        return f"+CME ERROR: {self.code}"
