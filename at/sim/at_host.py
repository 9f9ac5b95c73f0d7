"""Nordic's at_host receive side as a pure state machine (spec section 1, from `lib/at_host/at_host.c`).

Bytes in, at most one command out per call. The partial command and the quote flag
are kept in an `RxState` that the caller persists, because in the firmware they are
static and survive the host closing the port. Nothing here is kinder than at_host:

- only the configured terminator ends a command, and only outside quotes;
- every `"` flips the quote flag, with no escape; BS/DEL drop one byte, never a flip;
- at most 4095 bytes are kept, and the overflow check runs before the flip;
- a command with no printable character gets no answer;
- bytes that follow a terminator in the same burst are lost while the command runs
  (all but the one already in the UART's receive FIFO).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

BUFFER_SIZE = 4096  # CONFIG_AT_HOST_CMD_MAX_LEN: one byte is kept for the NUL
RX_FIFO = 1  # bytes already received by the UART when the receiver is switched off

TERMINATIONS = ("cr", "lf", "crlf", "nul")
_SPECIAL = re.compile(rb'[\x00\x08\x0a\x0d"\x7f]')  # every byte feed() must look at on its own


@dataclass
class RxState:
    """at_host's static receive state: the bytes buffered and whether a quote is open."""

    buffer: bytearray = field(default_factory=bytearray)
    inside_quotes: bool = False


class AtHost:
    """Frames host bytes into commands exactly as at_host does."""

    def __init__(self, state: RxState | None = None, termination: str = "cr") -> None:
        if termination not in TERMINATIONS:
            raise ValueError(f"termination must be one of {', '.join(TERMINATIONS)}")
        self.state = state if state is not None else RxState()
        self.termination = termination
        self.dropped = 0  # bytes lost: buffer overflow, or received while a command ran

    def _ends_command(self, byte: int) -> bool | None:
        """True: terminator; None: a NUL to drop; False: an ordinary byte."""
        mode, buf = self.termination, self.state.buffer
        if byte == 0x00:
            return True if mode == "nul" else None
        if byte == 0x0D:
            return mode == "cr"
        if byte == 0x0A:
            return mode == "lf" or (mode == "crlf" and buf[-1:] == b"\r")
        return False

    def feed(self, data: bytes) -> tuple[bytes | None, bytes]:
        """Take bytes until a command is complete: (command or None, bytes not consumed).

        The command is the raw buffer (no terminator). A complete command with no
        printable character is dropped and framing goes on. Runs of ordinary bytes
        (none of BS, DEL, NUL, CR, LF, `"`) are kept whole, as byte by byte they would be.
        """
        state = self.state
        index, size = 0, len(data)
        while index < size:
            found = _SPECIAL.search(data, index)
            stop = found.start() if found else size
            if stop > index:
                self._keep(data[index:stop])
                index = stop
                continue
            byte = data[index]
            index += 1
            if byte in (0x08, 0x7F):
                if state.buffer:
                    state.buffer.pop()  # the quote flag stays as it is
                continue
            if not state.inside_quotes:
                ends = self._ends_command(byte)
                if ends is None:
                    continue  # NUL outside quotes: logged and dropped
                if ends:
                    command = bytes(state.buffer)
                    state.buffer.clear()
                    state.inside_quotes = False
                    if any(b > 0x20 for b in command):
                        return command, data[index:]
                    continue
            if len(state.buffer) > BUFFER_SIZE - 2:
                self.dropped += 1  # overflow: dropped before the quote flip
                continue
            state.buffer.append(byte)
            if byte == 0x22:
                state.inside_quotes = not state.inside_quotes
        return None, b""

    def _keep(self, ordinary: bytes) -> None:
        """Ordinary bytes, in or out of quotes: appended while the buffer has room, the rest dropped."""
        buffer = self.state.buffer
        room = max(0, BUFFER_SIZE - 1 - len(buffer))
        buffer += ordinary[:room]
        self.dropped += max(0, len(ordinary) - room)


Execute = Callable[[str], list]


class AtHostFrontEnd:
    """The front end a simulated link talks to: at_host framing around a modem's `execute`.

    `receive(data) -> bytes` answers the one command `data` completes (if any); the link
    calls `lost(data)` for bytes that arrive while a command still runs, `close()` when
    the host closes the port, and `take_unsolicited()` for URCs due after the answer.
    """

    def __init__(self, execute: Execute, host: AtHost, *, save: Callable[[RxState], None] | None = None,
                 fail: str | None = None, boot_noise: bytes = b"") -> None:
        self._execute = execute
        self.host = host
        self._save = save
        self._fail = fail.upper() if fail else None
        self._noise = boot_noise  # printed, with no line end, just before the first answer
        self._unsolicited = b""
        self._saved = (bytes(host.state.buffer), host.state.inside_quotes)

    @property
    def dropped(self) -> int:
        return self.host.dropped

    def receive(self, data: bytes) -> bytes:
        command, rest = self.host.feed(data)
        answer = b""
        if command is not None:
            answer = self._run(command)
            kept = rest[:RX_FIFO]
            self.host.dropped += len(rest) - len(kept)
            self.host.feed(kept)  # cannot complete a command: a single byte is never printable + terminator
        self._persist()
        return answer

    def lost(self, data: bytes) -> None:
        """Bytes that arrived while at_host's receiver was off."""
        self.host.dropped += len(data)

    def close(self) -> None:
        self._persist()

    def take_unsolicited(self) -> bytes:
        out, self._unsolicited = self._unsolicited, b""
        return out

    def _run(self, raw: bytes) -> bytes:
        text = raw.decode("utf-8", errors="replace")
        if self._fail and text.strip().upper().startswith(self._fail):
            # nrf_modem_at_cmd failed: at_host only logs it and prints its buffer, no final line
            out = raw
        else:
            lines = self._execute(text)
            final = max((i for i, line in enumerate(lines) if _is_final(line)), default=len(lines) - 1)
            out = "".join(line + "\r\n" for line in lines[:final + 1]).encode("utf-8")
            self._unsolicited += "".join(line + "\r\n" for line in lines[final + 1:]).encode("utf-8")
            if len(out) > BUFFER_SIZE - 1:  # the answer shares the buffer: cut, no final line
                out = out[:BUFFER_SIZE - 1]
        out, self._noise = self._noise + out, b""
        return out

    def _persist(self) -> None:
        now = (bytes(self.host.state.buffer), self.host.state.inside_quotes)
        if self._save is not None and now != self._saved:
            self._save(self.host.state)
        self._saved = now


def _is_final(line: str) -> bool:
    text = line.strip()
    return text in ("OK", "ERROR") or text.startswith(("+CME ERROR", "+CMS ERROR"))
