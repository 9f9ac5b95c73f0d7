"""The AT protocol as pure functions: no I/O, no clocks.

Splitting the byte stream from the modem into lines (aware of
quoted strings, which may hold raw CR/LF), telling final results from URCs and
information lines, and parsing parameters. Both the client and the simulator use
this module, so the two sides agree on one reading of the wire.
"""
from __future__ import annotations

import re

# Building, checking and redacting commands live in at.commands; their names stay reachable here.
from .commands import (  # noqa: F401
    AT_HOST_BUFFER,
    MAX_COMMAND_LEN,
    SECRET_CMNG_TYPES,
    TERMINATOR,
    Param,
    build,
    check_command,
    check_length,
    encode_command,
    has_unquoted_break,
    quote,
    redact,
)

ZERO_SHA = "0" * 64

# A quoted string longer than the modem's whole buffer cannot be real: it is a stray
# quote in line noise, so the splitter stops honouring it.
_MAX_QUOTED = 2 * AT_HOST_BUFFER

# Prefixes the nRF91 sends unsolicited. A prefixed line is a response only when its
# prefix matches the pending command (see `is_urc`); these are URCs in any case.
KNOWN_URC_PREFIXES = frozenset({
    "+CEREG", "+CGEV", "+CSCON", "+CNEC_ESM", "+CNEC_EMM", "+CIREPI", "+CIREPH", "+CRTDCP",
    "+CMT", "+CDS", "%XTIME", "%CESQ", "%MDMEV", "%XMODEMSLEEP", "%NCELLMEAS", "%XSIM",
    "%XVBATLOWLVL", "%XPOFWARN", "%REJCAUSE", "%XT3412", "%PDNACT", "%XNETTIME", "%XDATAPRFL",
})

class LineKind:
    """Where a line belongs; compare with `is`. (Plain constants: an Enum class costs every run ~0.3 ms.)"""

    OK = "ok"
    ERROR = "error"
    INFO = "info"
    URC = "urc"
    ECHO = "echo"


# ---------------------------------------------------------------- splitting


class LineSplitter:
    """Turns bytes from the modem into logical lines.

    A line that starts like a response or a command (`+`, `%`, `AT`) honours double
    quotes: CR and LF inside them are data, so a %CMNG read of a PEM comes out as one
    line however many newlines it holds. Other lines (banners, bare values, noise)
    end at the first CR or LF, so a stray quote there cannot swallow what follows.
    Bytes that are not UTF-8 are decoded with replacement characters.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_quote = False
        self.after_cr = False  # the last byte fed was a CR ending a line: its LF may follow

    def reset(self) -> None:
        """Forget a partial line (e.g. noise left before a new command)."""
        self._buf.clear()
        self._in_quote = False
        self.after_cr = False

    @property
    def pending(self) -> bytes:
        """The bytes of the line not yet terminated."""
        return bytes(self._buf)

    def _quote_aware(self) -> bool:
        head = bytes(self._buf[:2])
        return head[:1] in (b"+", b"%") or head.upper() == b"AT"

    def feed(self, data: bytes) -> list[str]:
        lines: list[str] = []
        buf = self._buf
        if not self._in_quote and b'"' not in data:  # the common case: no quote, so every CR and LF ends a line
            *ended, rest = data.replace(b"\r", b"\n").split(b"\n")
            for part in ended:
                buf += part
                if buf:
                    lines.append(buf.decode("utf-8", errors="replace"))
                    buf.clear()
            buf += rest
            if data:
                self.after_cr = data[-1] == 0x0D
            return lines
        for byte in data:
            if byte in (0x0D, 0x0A) and not self._in_quote:
                self.after_cr = byte == 0x0D
                if buf:
                    lines.append(buf.decode("utf-8", errors="replace"))
                    buf.clear()
                continue
            self.after_cr = False
            buf.append(byte)
            if byte == 0x22 and self._quote_aware():
                self._in_quote = not self._in_quote
            elif self._in_quote and len(buf) > _MAX_QUOTED:
                self._in_quote = False
        return lines


def split_lines(data: bytes) -> list[str]:
    """All complete lines in `data` (a convenience over `LineSplitter`)."""
    return LineSplitter().feed(data)


# ---------------------------------------------------------------- classifying

# Patterns are kept as text and compiled by `re` on first use (and cached there): a command that
# never meets them, as most runs never meet an error, does not pay for compiling them.
_FINAL_ERROR = r"^\+(CME|CMS) ERROR: ?(\d+)\s*$"
_FINAL_ERROR_TEXT = r"(?s)^\+(CME|CMS) ERROR(:.*)?$"
_MAX_CODE_DIGITS = 10  # no real code is longer; a longer number is noise, kept as "no code"


def final_result(line: str) -> tuple[bool, int | None] | None:
    """(ok, code) when `line` ends a command's response, else None.

    `OK` -> (True, None); `ERROR` -> (False, None); `+CME ERROR: 513` -> (False, 513).
    """
    text = line.strip()
    if text == "OK":
        return True, None
    if text == "ERROR":
        return False, None
    if not text.startswith(("+CME ERROR", "+CMS ERROR")):
        return None
    match = re.match(_FINAL_ERROR, text)
    if match:
        digits = match.group(2)
        return False, int(digits) if len(digits) <= _MAX_CODE_DIGITS else None
    if re.match(_FINAL_ERROR_TEXT, text):  # a verbose or garbled error is still the end of the answer
        return False, None
    return None


def _prefix_of(text: str) -> str | None:
    """`+CFUN` from `+CFUN...`: `+` or `%`, then a name of ASCII letters, digits, `_` and `#`; else None.

    (String methods rather than a pattern: this runs on every line, and compiling costs more than the run.)"""
    if text[:1] not in ("+", "%"):
        return None
    end = 1
    while end < len(text) and (text[end].isascii() and (text[end].isalnum() or text[end] in "_#")):
        end += 1
    return text[:end].upper() if end > 1 else None


def line_prefix(line: str) -> str | None:
    """`+CFUN: 4` -> `+CFUN`; lines without a `+X:`/`%X:` prefix -> None."""
    prefix = _prefix_of(line)
    return prefix if prefix is not None and line[len(prefix):len(prefix) + 1] == ":" else None


def command_prefixes(command: str) -> frozenset[str]:
    """The information-line prefixes a command can answer with.

    `AT+CFUN?` -> {"+CFUN"}; `AT+CFUN?;%CMNG=1` -> {"+CFUN", "%CMNG"}.
    """
    body = command.strip()
    if body[:2].upper() == "AT":
        body = body[2:]
    prefixes = set()
    # split on ; outside quotes
    for part in _split_outside_quotes(body, ";"):
        prefix = _prefix_of(part.lstrip())
        if prefix is not None:
            prefixes.add(prefix)
    return frozenset(prefixes)


def is_urc(line: str, pending: str | None) -> bool:
    """Whether `line` is unsolicited, given the command now waiting for its answer.

    A prefixed line answers the pending command only if the command carries that
    prefix (a `+CEREG:` line answers `AT+CEREG?` and nothing else). Bare lines (an
    IMEI, a model name) belong to the pending command. With nothing pending, every
    prefixed line is a URC.
    """
    prefix = line_prefix(line)
    if prefix is None:
        return False
    if pending is None:
        return True
    return prefix not in command_prefixes(pending)


def classify(line: str, pending: str | None) -> LineKind:
    """Where a line from the modem belongs while `pending` waits for its answer."""
    result = final_result(line)
    if result is not None:
        return LineKind.OK if result[0] else LineKind.ERROR
    if pending is not None and line.strip() == pending.strip():
        return LineKind.ECHO
    if is_urc(line, pending):
        return LineKind.URC
    return LineKind.INFO


# ---------------------------------------------------------------- parsing


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    if '"' not in text:
        return text.split(sep)
    parts, current, in_quote = [], [], False
    for char in text:
        if char == '"':
            in_quote = not in_quote
        if char == sep and not in_quote:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_params(text: str) -> list[Param]:
    """Parse `16842753,0,"AB12","x,y:z"` -> [16842753, 0, "AB12", "x,y:z"].

    Quoted values keep everything between the quotes (commas, colons, newlines);
    unquoted decimals become ints, empty fields None, anything else a stripped str.
    A quote that is never closed raises ValueError.
    """
    if text.count('"') % 2:
        raise ValueError(f"unbalanced quotes in parameters: {text[:40]!r}")
    if not text.strip():
        return []
    params: list[Param] = []
    for raw in _split_outside_quotes(text, ","):
        field = raw.strip()
        if field.startswith('"') and field.endswith('"') and len(field) >= 2:
            params.append(raw.strip()[1:-1])
        elif field == "":
            params.append(None)
        elif _is_decimal(field[1:] if field.startswith("-") else field):
            params.append(int(field))
        else:
            params.append(field)
    return params


def _is_decimal(text: str) -> bool:
    """ASCII digits only (str.isdigit alone also takes other scripts' digits)."""
    return text.isascii() and text.isdigit()


def info_params(line: str, prefix: str) -> list[Param]:
    """The parameters of an information line: `+CFUN: 4` with prefix `+CFUN` -> [4]."""
    head = prefix + ":"
    if not line.upper().startswith(head.upper()):
        raise ValueError(f"expected a {prefix} line, got {line[:40]!r}")
    return parse_params(line[len(head):])


# ---------------------------------------------------------------- values


def sha256_hex(content: str | bytes) -> str:
    """The SHA-256 the modem reports for stored content: uppercase hex of the exact bytes."""
    import hashlib  # here, not at the top: it loads OpenSSL, which `cmng imei` or `list` never need

    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest().upper()


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit that makes `digits + it` valid (used by IMEIs)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def is_valid_imei(text: str) -> bool:
    """15 decimal digits whose last is the Luhn check digit of the first 14."""
    return len(text) == 15 and _is_decimal(text) and luhn_check_digit(text[:14]) == int(text[14])
