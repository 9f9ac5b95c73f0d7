"""AT commands as pure functions: building, quoting, framing checks, redaction. No I/O.

What the host sends (and what a trace may show of it). Reading the modem's side of
the wire, splitting and classifying lines, is `at.protocol`, which re-exports these names.
"""
from __future__ import annotations

import re

from .errors import ValidationError

# CONFIG_AT_HOST_CMD_MAX_LEN defaults to 4096 bytes; one is kept for the NUL, and the `\n`
# that our previous `\r\n` left in the buffer (CR termination) takes one more: 4094 for us.
AT_HOST_BUFFER = 4096
MAX_COMMAND_LEN = AT_HOST_BUFFER - 2
TERMINATOR = "\r\n"
Param = int | str | None


# ---------------------------------------------------------------- building


def quote(value: str) -> str:
    """Wrap a string parameter in double quotes; a quote inside could never be sent."""
    if '"' in value:
        raise ValidationError('a double quote (") cannot be sent inside an AT string parameter; remove it')
    return f'"{value}"'


def build(name: str, *params: Param) -> str:
    """`build("%CMNG", 1, 16842753)` -> `AT%CMNG=1,16842753`; trailing None params are dropped,
    inner ones stay empty. Strings are quoted, ints are written as decimals."""
    values = list(params)
    while values and values[-1] is None:
        values.pop()
    if not values:
        return f"AT{name}"
    out = []
    for value in values:
        if value is None:
            out.append("")
        elif isinstance(value, bool):
            raise TypeError("AT parameters are int or str, not bool")
        elif isinstance(value, int):
            out.append(str(value))
        else:
            out.append(quote(value))
    return f"AT{name}={','.join(out)}"


def check_length(command: str) -> None:
    """Refuse a command the at_host buffer would silently truncate (and then be stuck in quotes)."""
    size = len(command.encode("utf-8"))
    if size > MAX_COMMAND_LEN:
        raise ValidationError(
            f"the AT command would be {size} bytes, but at_host accepts at most {MAX_COMMAND_LEN} "
            f"(CONFIG_AT_HOST_CMD_MAX_LEN={AT_HOST_BUFFER}): shorten the content, or rebuild the firmware "
            "with a larger CONFIG_AT_HOST_CMD_MAX_LEN"
        )


def check_command(command: str) -> None:
    """Refuse text at_host would frame differently from what was meant, before a byte is sent.

    An odd number of `"` leaves at_host inside quotes (every later command is swallowed);
    BS and DEL edit its buffer without undoing a quote flip; NUL, CR or LF outside quotes
    end the command early.
    """
    for char, name in (("\x00", "NUL"), ("\x08", "backspace (BS)"), ("\x7f", "DEL")):
        if char in command:
            raise ValidationError(f"the AT command contains a {name} character, which at_host treats as an "
                                  "edit or a terminator: remove it")
    if command.count('"') % 2:
        raise ValidationError('the AT command has an unbalanced double quote ("): at_host would wait inside '
                              "the quote and swallow every later command; close the quote or remove it")
    if has_unquoted_break(command):
        raise ValidationError("one command at a time: the command has a line break outside quotes")
    check_length(command)


def has_unquoted_break(command: str) -> bool:
    """Whether a CR, LF or NUL outside quotes would end the command early (or start another)."""
    in_quote = False
    for char in command:
        if char == '"':
            in_quote = not in_quote
        elif char in "\r\n\x00" and not in_quote:
            return True
    return False


def encode_command(command: str) -> bytes:
    """The bytes to put on the wire for one command."""
    return (command + TERMINATOR).encode("utf-8")


# ---------------------------------------------------------------- redaction

# Types whose content is secret: private keys and PSKs.
SECRET_CMNG_TYPES = frozenset({2, 3})

# Compiled by `re` on first use (a run that traces nothing never needs them).
_CMNG_WRITE = r'(?si)^(AT%CMNG=0,\s*\d+,\s*)(\d+)(,\s*)"([^"]*)"(.*)$'


_CMNG_WRITE_HEAD = r'(?si)^(\s*AT%CMNG=0,\s*\d+,\s*)(\d+)(.*)$'


def redact(command: str) -> str:
    """The command with a private key, PSK or password replaced, for logs and traces.

    Also for what a device echoes back: a %CMNG write that is cut or malformed keeps
    only its sec_tag and type when the type is secret or a password may follow.
    """
    match = re.match(_CMNG_WRITE, command.lstrip())
    if not match:
        head = re.match(_CMNG_WRITE_HEAD, command)
        if head and (int(head.group(2)[:3]) in SECRET_CMNG_TYPES or head.group(3).count('"') > 2):
            return f"{head.group(1).strip()}{head.group(2)},<{len(head.group(3))} bytes redacted>"
        return command
    head, kind, sep, content, rest = match.groups()
    if rest.strip():
        rest = ',"<password redacted>"'
    if int(kind) in SECRET_CMNG_TYPES:
        content = f"<{len(content)} bytes redacted>"
    return f'{head}{kind}{sep}"{content}"{rest}'
