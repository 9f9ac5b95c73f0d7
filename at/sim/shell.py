"""A simulated Zephyr shell with NCS's `at` command, in front of the same `Modem`.

Bytes in, bytes out, no clocks: what an application with CONFIG_AT_SHELL (modem_shell,
the nRF Cloud samples) does on its UART. Behaviour follows Zephyr `subsys/shell`
(line buffer, echo and wrapping, Ctrl-U/Ctrl-C, argument splitting) and NCS
`lib/at_shell` (`at <command>`, UNESCAPE_LF, the response buffer), as described in
../shared/spec/nrf91-wire.md section 4:

- Input: bytes above 0x7F are dropped; CR or LF ends a line (CR LF counts once);
  printable bytes go into the line buffer, which keeps at most `buffer_size - 1`
  bytes: later ones are dropped and not echoed. Backspace/DEL remove the last byte;
  Ctrl-U empties the line, Ctrl-C empties it and prints a new prompt, Ctrl-W removes
  a word; ESC sequences and TAB are swallowed (cursor movement is not emulated).
- Echo: every accepted byte, with a line break whenever prompt + line fill a multiple
  of the terminal width (80).
- Output: every LF is sent as CR LF (the UART backend's SHELL_FLAG_OLF_CRLF), so the
  modem's own CR LF arrives as CR CR LF. Colours and cursor commands only with `colour`.
- Logs (`logs`): at seeded random moments the line is erased (VT100, if on), a log
  line is printed, and the prompt and the half-typed line are printed again.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from .modem import URC_AFTER, URC_BEFORE, URC_INSIDE, Modem
from .shell_argv import make_argv, unescape_lf

PROMPTS = {"uart": "uart:~$ ", "mosh": "mosh:~$ "}
USAGE = ("Usage: at <subcommand>\n\nSubcommands:\n"
         "  events_enable     Enable AT event handler which prints AT notifications\n"
         "  events_disable    Disable AT event handler\n\n"
         "Any other subcommand is interpreted as AT command and sent to the modem.\n")
E2BIG = -7  # -NRF_E2BIG from nrf_modem_at_cmd: the answer did not fit the response buffer

_RED, _GREEN, _YELLOW = 1, 2, 3
_LOGS = (("inf", "lte_lc", "Network registration status: 2"),
         ("wrn", "modem_info", "OK, 'quoted' and \"double\" words"),
         ("inf", "at_monitor", "+CEREG: 5 seen"),
         ("err", "nrf_cloud", "Cannot connect: -116"),
         ("dbg", "app", "uart:~$ is the prompt"))
_LOG_COLOUR = {"err": _RED, "wrn": _YELLOW}


@dataclass
class ShellOptions:
    """Kconfig of the simulated application firmware."""

    prompt: str = PROMPTS["uart"]  # CONFIG_SHELL_PROMPT_UART
    buffer_size: int = 3584  # CONFIG_SHELL_CMD_BUFF_SIZE (modem_shell; Zephyr's default is 256)
    response_max: int = 2700  # CONFIG_AT_SHELL_CMD_RESPONSE_MAX_LEN
    unescape_lf: bool = True  # CONFIG_AT_SHELL_UNESCAPE_LF
    colour: bool = False  # CONFIG_SHELL_VT100_COLORS and VT100 commands
    logs: bool = False  # log lines at random moments (CONFIG_SHELL_LOG_BACKEND)
    wildcard: bool = False  # CONFIG_SHELL_WILDCARD (modem_shell turns it off; '?' then breaks `at`)
    argc_max: int = 20  # CONFIG_SHELL_ARGC_MAX
    width: int = 80  # CONFIG_SHELL_DEFAULT_TERMINAL_WIDTH
    seed: int | None = None  # seed for the log moments (default: from the device name)


class ShellFrontEnd:
    """Feed it what the host writes (`receive`), get back what the shell prints.

    A `FrontEnd` for `at.sim.link.Link`: the shell's UART receives into a ring buffer while
    it transmits (`full_duplex`), so no input is lost while an answer is written out.
    """

    full_duplex = True

    def __init__(self, modem: Modem, options: ShellOptions | None = None) -> None:
        self.modem = modem
        self.options = options or ShellOptions()
        seed = self.options.seed
        if seed is None:
            seed = int.from_bytes(hashlib.sha256(modem.name.encode()).digest()[:4], "big")
        self._random = random.Random(seed)
        self._line = bytearray()
        self._last_nl = 0
        self._esc = 0  # 0 none, 1 after ESC, 2 after ESC [, 3 swallow one more (ESC [ n ~)
        self._events = False
        self._clock_ms = 1000
        self.lines_run: list[bytes] = []  # every line executed, for tests
        # what waits on the UART after a reset (Link option `banner`)
        self.boot_text = self._wire("*** Booting nRF Connect SDK v2.9.0-7787b2649840 ***\n" + self._prompt())

    # ------------------------------------------------------------ output helpers

    def _colour(self, text: str, colour: int) -> str:
        return f"\x1b[1;3{colour}m{text}\x1b[0m" if self.options.colour else text

    def _vt100(self, sequence: str) -> str:
        return sequence if self.options.colour else ""

    def _prompt(self) -> str:
        return self._colour(self.options.prompt, _GREEN)

    def _in_empty_line(self) -> bool:
        return (len(self._line) + len(self.options.prompt)) % self.options.width == 0

    def _wrapped_line(self) -> str:
        """The prompt and the line as the shell prints them again, wrapped at the terminal width."""
        out = [self._prompt()]
        plen = len(self.options.prompt)
        for index, byte in enumerate(self._line):
            out.append(chr(byte))
            if (index + 1 + plen) % self.options.width == 0:
                out.append("\n")
        return "".join(out)

    def _log(self) -> str:
        level, module, message = self._random.choice(_LOGS)
        self._clock_ms += self._random.randint(1, 5000)
        seconds, millis = divmod(self._clock_ms, 1000)
        micros = self._random.randint(0, 999)
        stamp = f"[{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{millis:03d},{micros:03d}]"
        text = f"{stamp} <{level}> {module}: {message}"
        colour = _LOG_COLOUR.get(level)
        erase = self._vt100(f"\x1b[{len(self.options.prompt) + len(self._line)}D\x1b[J")
        return erase + (self._colour(text, colour) if colour else text) + "\n" + self._wrapped_line()

    @staticmethod
    def _wire(text: str) -> bytes:
        return text.replace("\n", "\r\n").encode("utf-8", errors="replace")

    # ------------------------------------------------------------ FrontEnd

    def lost(self, data: bytes) -> None:
        """Not called for a full-duplex front end; kept for the `FrontEnd` protocol."""

    def close(self) -> None:
        """The host closed the port: the shell keeps its half-typed line (hence Ctrl-U before a line)."""

    def take_unsolicited(self) -> bytes:
        return b""

    # ------------------------------------------------------------ input

    def receive(self, data: bytes) -> bytes:
        out: list[str] = []
        for byte in data:
            if self.options.logs and self._random.random() < 0.003:
                out.append(self._log())
            out.append(self._byte(byte))
        return self._wire("".join(out))

    def _byte(self, byte: int) -> str:
        if byte > 0x7F:
            return ""
        if self._esc:
            return self._escape(byte)
        if byte in (0x0D, 0x0A):
            if self._last_nl in (0, byte):
                self._last_nl = byte
                return self._enter()
            return ""
        self._last_nl = 0
        if byte == 0x1B:
            self._esc = 1
            return ""
        if byte in (0x08, 0x7F):
            if self._line:
                self._line.pop()
                return self._vt100("\x1b[1D\x1b[J")
            return ""
        if 0x20 <= byte <= 0x7E:
            return self._insert(byte)
        return self._control(byte)

    def _escape(self, byte: int) -> str:
        if self._esc == 1:
            self._esc = 2 if byte == 0x5B else 0
        elif self._esc == 2:
            self._esc = 3 if byte in b"1234" else 0
        else:
            self._esc = 0
        return ""

    def _insert(self, byte: int) -> str:
        if len(self._line) + 1 >= self.options.buffer_size:
            return ""  # the line buffer is full: dropped, not echoed
        self._line.append(byte)
        return chr(byte) + ("\n" if self._in_empty_line() else "")

    def _control(self, byte: int) -> str:
        if byte == 0x03:  # Ctrl-C: a fresh line and prompt
            text = "" if self._in_empty_line() else "\n"
            self._line.clear()
            return text + self._prompt()
        if byte == 0x15:  # Ctrl-U: empty the line
            erase = self._vt100(f"\x1b[{len(self._line)}D\x1b[J") if self._line else ""
            self._line.clear()
            return erase
        if byte == 0x17:  # Ctrl-W: remove the last word
            while self._line and self._line[-1] == 0x20:
                self._line.pop()
            while self._line and self._line[-1] != 0x20:
                self._line.pop()
            return self._vt100("\x1b[J")
        if byte == 0x0C:  # Ctrl-L: clear the screen, print prompt and line again
            return self._vt100("\x1b[H\x1b[2J") + self._wrapped_line()
        return ""  # Ctrl-A/B/D/E/F/K/N/P move the cursor or browse history: not emulated

    # ------------------------------------------------------------ running a line

    def _enter(self) -> str:
        if not self._line:
            return "\n" + self._prompt()
        line = bytes(self._line).strip(b" \t\v\f")  # CONFIG_SHELL_HISTORY trims the line
        newline = "" if self._in_empty_line() else "\n"
        self._line.clear()
        if not line:
            return newline + self._prompt()
        self.lines_run.append(line)
        text = newline + self._execute(line) + self._prompt()
        if self.options.logs and self._random.random() < 0.3:
            text += self._log()
        return text

    def _error(self, text: str) -> str:
        return self._colour(text + "\n", _RED) if self.options.colour else text + "\n"

    def _execute(self, line: bytes) -> str:
        args, quote = make_argv(line)
        if not args:
            return ""
        if len(args) > self.options.argc_max:
            return self._error("Too many arguments in the command.\n")
        unterminated = self._error(f"not terminated: {chr(quote)}") if quote else ""
        if args[0] != b"at":
            if quote and len(args) == 1:
                return unterminated
            return self._error(f"{args[0].decode('ascii', 'replace')}: command not found") + unterminated
        if quote:
            return unterminated
        if len(args) < 2:
            return USAGE + "\n"
        sub = args[1]
        if self.options.wildcard and (b"?" in sub or b"*" in sub):
            return USAGE + "\n"  # no subcommand matches the pattern: `at` runs with argc 1
        if sub in (b"events_enable", b"events_disable"):
            if len(args) > 2:
                return self._error(f"{sub.decode()}: wrong parameter count")
            self._events = sub == b"events_enable"
            return f"AT command event handler {'enabled' if self._events else 'disabled'}\n"
        return self._at(sub)

    def _at(self, argument: bytes) -> str:
        command = argument.split(b"\0", 1)[0].decode("utf-8", errors="replace")
        if self.options.unescape_lf:
            command = unescape_lf(command)
        lines = self.modem.execute(command) if command.strip() else ["ERROR"]
        events = [line for line in lines if line in (URC_BEFORE, URC_INSIDE, URC_AFTER)]
        if self.modem.options.echo and lines and lines[0] == command.strip():
            lines = lines[1:]  # a terminal's echo is not part of nrf_modem_at_cmd's answer
        response = "".join(line + "\r\n" for line in lines if line not in events)
        text = (f"Sending AT command failed with error code {E2BIG}\n" if len(response) > self.options.response_max
                else response + "\n")
        if self._events:
            text += "".join(f"AT event handler:\n{event}\r\n\n" for event in events)
        return text
