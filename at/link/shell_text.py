"""The AT shell's text, as pure functions: no I/O, no clocks.

How one AT command becomes one shell line (`at '<command>'`, quoted for Zephyr's
make_argv), and how the shell's output is read back: ANSI escapes stripped, the
UART backend's LF -> CR LF undone, the echo of the line (wrapped at the terminal
width, printed again after a log line) told apart from the command's output, and
the next prompt found. See ../shared/spec/nrf91-wire.md section 4.
"""
from __future__ import annotations

import codecs
import re

from .. import protocol
from ..errors import ATError, ProtocolError, ValidationError

KNOWN_PROMPTS = ("uart:~$ ", "mosh:~$ ")
CREDENTIALS_CMD = "AT%CMNG=0"  # the only command CONFIG_AT_SHELL_UNESCAPE_LF rewrites
CLEAR_LINE = b"\x15"  # Ctrl-U: empties a half-typed line (and prints nothing without VT100)

# Patterns as text, compiled by `re` on first use: an at_client kit probed in auto mode never needs most.
_ANSI = r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_78])"
_ANSI_PARTIAL = r"\x1b(?:\[[0-9;?]*[ -/]*)?$"
# Zephyr's log_output: `[00:00:05.123,456] <inf> module: text`, the timestamp optional
LOG_LINE = r"(?:\[[0-9:.,]{6,}\] )?<(?:err|wrn|inf|dbg)> [A-Za-z0-9_.\-]+: "
_PROMPT_LIKE = r"^[\x21-\x7e][\x20-\x7e]{0,38}[$#>%] $"


def strip_ansi(text: str) -> str:
    return re.sub(_ANSI, "", text) if "\x1b" in text else text


def looks_like_prompt(text: str) -> bool:
    """A partial line that a shell prints as its prompt (`uart:~$ `, `mosh:~$ `, `app> `)."""
    return text in KNOWN_PROMPTS or bool(re.match(_PROMPT_LIKE, text))


# ---------------------------------------------------------------- sending


def check_carriable(command: str) -> None:
    """Refuse, before anything is sent, a command the shell cannot carry byte for byte."""
    for index, char in enumerate(command):
        if char == "\n" and command.startswith(CREDENTIALS_CMD):
            continue
        if char in "\r\n":
            raise ValidationError("a line break can only travel through the AT shell inside an AT%CMNG=0 write "
                                  "(CONFIG_AT_SHELL_UNESCAPE_LF): use at_client for this command")
        if not " " <= char <= "~":
            raise ValidationError(f"the command has a character the shell cannot take at position {index} "
                                  f"({char!r}): the shell line takes printable ASCII only")
    if command.startswith(CREDENTIALS_CMD) and "\\n" in command:
        raise ValidationError("the content holds the two characters \\n, which the AT shell "
                              "(CONFIG_AT_SHELL_UNESCAPE_LF) turns into a line break: it cannot be written "
                              "through the shell; use at_client (--mode at)")


def shell_line(command: str) -> str:
    """`at '<command>'`, escaped so that make_argv hands the modem exactly `command`.

    Inside single quotes make_argv turns `\\'` into `'` and `\\xHH` into a byte, and keeps
    every other character, double quotes included. A backslash is sent as `\\x5c` (so it
    cannot start an escape); a line break as the two characters `\\n`, which at_shell's
    UNESCAPE_LF turns into CR LF in an AT%CMNG=0 command.
    """
    check_carriable(command)
    escaped = command.replace("\\", "\\x5c").replace("'", "\\'").replace("\n", "\\n")
    return f"at '{escaped}'"


def stored_by_shell(text: str) -> str:
    """What the modem stores for a string parameter sent through the shell: CR LF line endings."""
    return text.replace("\n", "\r\n")


def stored_without_unescape(text: str) -> str:
    """What it stores when the firmware lacks UNESCAPE_LF: a literal backslash and `n` per line break."""
    return text.replace("\n", "\\n")


# ---------------------------------------------------------------- reading


class ShellReader:
    """Turns the shell's bytes into lines and finds where one command's output ends.

    `begin(line)` before sending a line; feed bytes; `done` once the echo is over and
    the next prompt stands alone at the end. `output()` is then the command's output
    exactly as at_shell printed it (the modem's CR LF included), `cut_at` the number of
    bytes the shell kept if its echo stopped before the end of the line.
    """

    def __init__(self, prompt: str | None = None, keep_all: bool = False) -> None:
        self.prompt = prompt
        self.keep_all = keep_all  # keep every line outside a command (for probing), not only URCs
        self.partial = ""  # the unterminated last line (ANSI stripped)
        self.lines: list[str] = []  # log lines and URCs seen outside a command's output, for the caller
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._held = ""  # a trailing CR or a partial escape sequence, kept until more arrives
        self._expect: str | None = None
        self._echo: str | None = None
        self._output: list[str] | None = None
        self.cut_at: int | None = None

    def begin(self, line: str) -> None:
        self._expect = line
        self._echo = None
        self._output = None
        self.cut_at = None

    @property
    def visible(self) -> str:
        """The last line as a terminal shows it: a bare CR returns to its start."""
        return self.partial.rsplit("\r", 1)[-1]

    @property
    def done(self) -> bool:
        return self._output is not None and self.prompt is not None and self.visible == self.prompt

    def output(self) -> str:
        return "\n".join(self._output or [])

    def feed(self, data: bytes) -> None:
        text = self._held + self._decoder.decode(data)
        partial_escape = re.search(_ANSI_PARTIAL, text)
        cut = partial_escape.start() if partial_escape else len(text)
        if cut == len(text) and text.endswith("\r"):
            cut -= 1
        text, self._held = text[:cut], text[cut:]
        text = strip_ansi(text).replace("\r\n", "\n")
        pieces = (self.partial + text).split("\n")
        self.partial = pieces.pop()
        for line in pieces:
            self._line(line)

    def _line(self, line: str) -> None:
        prompt = self.prompt or "\0"
        if self._output is not None and self.cut_at is not None and line.startswith(prompt) and \
                self._expect is not None and self._expect.startswith(line[len(prompt):]):
            self._output, self.cut_at = None, None  # not a cut: an unknown line broke the echo, now printed again
        if self._expect is None or self._output is not None:
            if re.search(LOG_LINE, line) and (line.startswith(prompt) or re.match(LOG_LINE, line)):
                self.lines.append(line[len(prompt):] if line.startswith(prompt) else line)
            elif self._output is not None:
                self._output.append(line)
            elif self.keep_all or line[:1] in ("+", "%"):
                self.lines.append(line)  # a URC printed by `at events_enable`
            return  # anything else is the rest of an old line (perhaps an echo): never kept
        line = line.rstrip("\r").rsplit("\r", 1)[-1]  # what the terminal shows after a bare CR
        log = re.search(LOG_LINE, line)
        if log:  # a log line erased and replaced the echo: prompt and echo are printed again
            self.lines.append(line[log.start():])
            self._echo = None
            return
        if line.startswith(prompt):
            echo = line[len(prompt):]
            self._echo = echo if self._expect.startswith(echo) else None
        elif self._echo is None:
            return  # left over from before this command
        elif self._expect.startswith(self._echo + line):
            self._echo += line
        else:  # the echo stopped early: the shell's line buffer was full
            self.cut_at = len(self._echo)
            self._output = [line]
            return
        if self._echo == self._expect:
            self._output = []


def brief(command: str) -> str:
    """A command for an error message: redacted, first line, short (never a key or PSK)."""
    return protocol.redact(command).split("\n", 1)[0][:40]


def buffer_message(size: int, kept: int | None) -> str:
    """The one line for a shell line that did not fit CONFIG_SHELL_CMD_BUFF_SIZE."""
    held = (f"the shell keeps only {kept} (CONFIG_SHELL_CMD_BUFF_SIZE={kept + 1})" if kept is not None
            else "the shell cut it (its quote was never closed)")
    return (f"the shell line for this command is {size} bytes, but {held}: nothing was stored; rebuild the "
            f"firmware with a CONFIG_SHELL_CMD_BUFF_SIZE of at least {size + 1}, or use at_client")


def shell_failure(line: str, command: str, size: int, port: str) -> ATError | None:
    """The error for a line that the shell or at_shell printed instead of the modem's answer."""
    short = brief(command)
    if line.startswith("Sending AT command failed with error code"):
        code = line.rsplit(" ", 1)[-1]
        if code == "-7":  # -NRF_E2BIG
            return ProtocolError(
                f"the answer to {short} does not fit the AT shell's response buffer "
                "(CONFIG_AT_SHELL_CMD_RESPONSE_MAX_LEN, 2700 bytes by default): rebuild the firmware with a "
                "larger CONFIG_AT_SHELL_CMD_RESPONSE_MAX_LEN, or use at_client")
        return ProtocolError(f"the AT shell could not send {short} to the modem (error {code})")
    if line.startswith("not terminated:"):  # our lines always close their quote: the shell cut it
        return ValidationError(buffer_message(size, None))
    if line.endswith("command not found"):
        return ProtocolError(f"the shell on {port} has no 'at' command: the firmware needs CONFIG_AT_SHELL=y")
    if line.startswith("Usage: at"):
        if "?" in command or "*" in command:
            return ProtocolError(f"the shell treats '?' and '*' in {short} as wildcards and never runs it: "
                                 "rebuild the firmware with CONFIG_SHELL_WILDCARD=n")
        return ProtocolError(f"the shell printed the usage of 'at' instead of running {short}")
    return None
