"""The simulator's options, one table for the `sim://` URL query and `nrf91-sim` flags.

    sim://NAME?fw=nrf9160&baud=115200&latency=0.02&urcs=1&echo=1&cmee=1&banner=1
              &disconnect_after=500&fragment=7&zero_sha=1&state=memory|DIR
              &mfw=mfw_nrf9160_1.2.3&legacy_csr=1&crlf527=1&keygen_fail=1&bad_digest=1
              &term=cr|lf|crlf|nul&dirty_boot=1&fail=AT%CMNG
              &app=at_client|shell&prompt=uart|mosh&shell_buf=256&unescape_lf=0&colour=1&logs=1
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .at_host import TERMINATIONS
from .firmware import parse_mfw
from .link import LinkOptions
from .modem import FLAVOURS, ModemOptions
from .shell import PROMPTS, ShellOptions


def _flag(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1/0/true/false, got {text!r}")


def _flavour(text: str) -> str:
    if text not in FLAVOURS:
        raise ValueError(f"expected one of {', '.join(sorted(FLAVOURS))}")
    return text


def _mfw(text: str) -> str:
    parse_mfw(text)
    return text


def _cmee(text: str) -> int:
    if text not in ("0", "1"):
        raise ValueError("expected 0 or 1")
    return int(text)


def _termination(text: str) -> str:
    if text.lower() not in TERMINATIONS:
        raise ValueError(f"expected one of {', '.join(TERMINATIONS)}")
    return text.lower()


@dataclass
class FrontEndOptions:
    """How at_host frames commands (Kconfig choices) and its faults."""

    termination: str = "cr"  # CONFIG_AT_HOST_TERMINATION: cr (default), lf, crlf, nul
    dirty_boot: bool = False  # boot noise with no line end before the first answer
    fail: str | None = None  # commands starting with this make nrf_modem_at_cmd fail: no final line


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("expected a positive integer")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("expected seconds >= 0")
    return value


def _app(text: str) -> str:
    if text not in ("at_client", "shell"):
        raise ValueError("expected at_client or shell")
    return text


def _prompt(text: str) -> str:
    if text not in PROMPTS:
        raise ValueError(f"expected one of {', '.join(PROMPTS)}")
    return PROMPTS[text]


def _buffer_size(text: str) -> int:
    value = int(text)
    if value < 2:
        raise ValueError("expected at least 2 (one byte and the NUL)")
    return value


# name -> (parser, target, attribute, help)
OPTIONS: dict[str, tuple[Callable[[str], object], str, str, str]] = {
    "fw": (_flavour, "modem", "flavour", "firmware flavour: nrf91x1 (nRF9151, mfw 2.0.2) or nrf9160 (mfw 1.3.5)"),
    "mfw": (_mfw, "modem", "mfw", "modem firmware version, e.g. mfw_nrf9160_1.2.3 (before 1.3.0: no KEYGEN or "
            "ATTESTTOKEN; before 1.3.2: zero hashes in lists); its family sets the flavour"),
    "legacy_csr": (_flag, "modem", "legacy_csr", "KEYGEN CSRs encode ecdsa-with-SHA256 with a NULL parameter"),
    "crlf527": (_flag, "modem", "crlf527", "refuse PEM with CRLF line endings (+CME ERROR: 527)"),
    "keygen_fail": (_flag, "modem", "keygen_fail", "KEYGEN fails with +CME ERROR: 523"),
    "bad_digest": (_flag, "modem", "bad_digest", "fault: the KEYGEN COSE digest does not match the CSR"),
    "cmee": (_cmee, "modem", "cmee", "AT+CMEE at power-on (0: plain ERROR)"),
    "echo": (_flag, "modem", "echo", "echo each command line back"),
    "urcs": (_flag, "modem", "urcs", "emit URCs before, inside and after every response"),
    "zero_sha": (_flag, "modem", "zero_sha", "old firmware: print all-zero hashes in lists"),
    "baud": (_positive_int, "link", "baud", "emulate this baud rate (each byte costs 10/baud s)"),
    "latency": (_seconds, "link", "latency", "seconds of processing before each answer"),
    "banner": (_flag, "link", "banner", "the boot banner waits when the port opens"),
    "disconnect_after": (_positive_int, "link", "disconnect_after", "vanish after sending this many bytes"),
    "fragment": (_positive_int, "link", "fragment", "deliver at most this many bytes per read"),
    "usb_frame": (_seconds, "link", "usb_frame", "USB frame: bytes reach the host at these boundaries, never before "
                  "their wire time (default 0.001; 0: each byte at its wire time)"),
    "term": (_termination, "front_end", "termination", "at_host termination: cr (default), lf, crlf or nul"),
    "dirty_boot": (_flag, "front_end", "dirty_boot", "boot noise with no line end before the first answer"),
    "fail": (str, "front_end", "fail", "commands starting with this fail in nrf_modem_at_cmd: no final line"),
    "state": (str, "state", "state", "'memory', or the directory for the device's state file"),
    "app": (_app, "app", "app", "firmware: at_client (at_host, the default) or shell (a Zephyr shell with `at`)"),
    "prompt": (_prompt, "shell", "prompt", "shell prompt: uart (uart:~$, the default) or mosh (mosh:~$)"),
    "shell_buf": (_buffer_size, "shell", "buffer_size", "CONFIG_SHELL_CMD_BUFF_SIZE (default 3584; Zephyr's is 256)"),
    "resp_max": (_positive_int, "shell", "response_max", "CONFIG_AT_SHELL_CMD_RESPONSE_MAX_LEN (default 2700)"),
    "unescape_lf": (_flag, "shell", "unescape_lf", "CONFIG_AT_SHELL_UNESCAPE_LF (default 1)"),
    "colour": (_flag, "shell", "colour", "shell colours and VT100 commands"),
    "logs": (_flag, "shell", "logs", "log lines at random (seeded) moments"),
    "wildcard": (_flag, "shell", "wildcard", "CONFIG_SHELL_WILDCARD: '?' and '*' in `at` arguments break it"),
    "seed": (int, "shell", "seed", "seed for the moments of log lines"),
}


# What each parser accepts, as the README table shows it.
_VALUE_FORMS: dict[Callable[[str], object], str] = {
    _flag: "1 or 0", _flavour: " or ".join(sorted(FLAVOURS)), _mfw: "mfw_nrf91x1_2.0.2, mfw_nrf9160_1.3.5, ...",
    _cmee: "0 or 1", _termination: " or ".join(TERMINATIONS), _positive_int: "N > 0", _seconds: "seconds",
    _app: "at_client or shell", _prompt: "uart or mosh", _buffer_size: "bytes", int: "N",
}
_VALUE_BY_NAME = {"state": "'memory' or a folder", "fail": "a command prefix, e.g. AT%CMNG"}


def markdown_table() -> str:
    """Every option as a Markdown table, the one in the README's simulator section (a test keeps them equal).

    Regenerate with `python -c "from at.sim.options import markdown_table; print(markdown_table())"`.
    """
    rows = ["| URL query (`sim://NAME?...`) | `nrf91-sim` flag | value | what it does |", "|---|---|---|---|"]
    for name, (parser, _, _, text) in OPTIONS.items():
        value = _VALUE_FORMS.get(parser) or _VALUE_BY_NAME.get(name, "text")
        rows.append(f"| `{name}=` | `--{name.replace('_', '-')}` | {value} | {text.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


@dataclass
class SimOptions:
    modem: ModemOptions = field(default_factory=ModemOptions)
    link: LinkOptions = field(default_factory=LinkOptions)
    front_end: FrontEndOptions = field(default_factory=FrontEndOptions)
    state: str | None = None  # None: default directory; "memory": in-process only
    app: str = "at_client"  # the firmware in front of the modem: at_client or shell
    shell: ShellOptions = field(default_factory=ShellOptions)

    def state_dir(self) -> Path | None:
        return None if self.state in (None, "memory") else Path(self.state)


def parse_options(pairs: dict[str, str]) -> SimOptions:
    """Build `SimOptions` from name -> text pairs; raises ValueError naming the bad option."""
    result = SimOptions()
    for name, text in pairs.items():
        if name not in OPTIONS:
            raise ValueError(f"unknown simulator option {name!r}: use {', '.join(OPTIONS)}")
        parser, target, attribute, _ = OPTIONS[name]
        try:
            value = parser(text)
        except ValueError as exc:
            raise ValueError(f"simulator option {name}={text!r}: {exc}") from None
        if target in ("state", "app"):
            setattr(result, target, str(value))
        else:
            setattr(getattr(result, target), attribute, value)
    if result.modem.mfw:
        family = parse_mfw(result.modem.mfw)[0]
        if "fw" in pairs and family != result.modem.flavour:
            raise ValueError(f"simulator options fw={result.modem.flavour} and mfw={result.modem.mfw} disagree")
        result.modem.flavour = family
    return result
