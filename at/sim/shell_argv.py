"""Zephyr's shell argument splitting (`make_argv`) and NCS at_shell's UNESCAPE_LF, as pure functions.

Read from Zephyr `subsys/shell/shell_utils.c` and NCS `lib/at_shell/at_shell.c`; used by the
simulated shell (`at.sim.shell`) so that it splits lines exactly as the real one does.
"""
from __future__ import annotations

CREDENTIALS_CMD = "AT%CMNG=0"  # the only command UNESCAPE_LF touches


def _isspace(byte: int) -> bool:
    return byte in b" \t\n\v\f\r"


def _parse_arg(buf: bytes, i: int) -> tuple[bytes, int, int]:
    """One argument as Zephyr's make_argv reads it from `buf[i:]`: (value, next index, open quote).

    Outside quotes a backslash takes the next byte literally and `'`/`"` open a quote.
    Inside, the active quote closes it, and a backslash escapes only that quote, `\\0`
    plus 1-3 octal digits, or `\\x` plus 1-2 hex digits; any other backslash stays.
    """
    out = bytearray()
    quote = 0
    n = len(buf)
    while i < n:
        c = buf[i]
        if not quote:
            if c == 0x5C:  # backslash: the next byte is taken as it is
                if i + 1 < n:
                    out.append(buf[i + 1])
                i += 2
                continue
            if c in (0x27, 0x22):
                quote = c
                i += 1
                continue
        elif c == quote:
            quote = 0
            i += 1
            continue
        elif c == 0x5C:
            nxt = buf[i + 1] if i + 1 < n else 0
            if nxt == quote:
                out.append(quote)
                i += 2
                continue
            digits, base, width = (b"01234567", 8, 3) if nxt == 0x30 else (b"0123456789abcdefABCDEF", 16, 2)
            if nxt in (0x30, 0x78):
                j = i + 2
                value = 0
                while j < n and j < i + 2 + width and buf[j] in digits:
                    value = (value * base + int(chr(buf[j]), base)) & 0xFF
                    j += 1
                if j > i + 2:
                    out.append(value)
                    i = j
                    continue
        if not quote and _isspace(c):
            break
        out.append(c)
        i += 1
    return bytes(out), i, quote


def make_argv(line: bytes) -> tuple[list[bytes], int]:
    """Split a shell line into arguments; also return the quote left open by the last one (0: none)."""
    args: list[bytes] = []
    quote = 0
    i = 0
    while i < len(line):
        if _isspace(line[i]):
            i += 1
            continue
        arg, i, quote = _parse_arg(line, i)
        args.append(arg)
    return args, quote


def unescape_lf(command: str) -> str:
    """NCS at_shell with CONFIG_AT_SHELL_UNESCAPE_LF: the two characters `\\n` become CR LF,
    only in a command that starts exactly with AT%CMNG=0."""
    return command.replace("\\n", "\r\n") if command.startswith(CREDENTIALS_CMD) else command
