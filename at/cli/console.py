"""One console: messages on stderr, the result (text, table or exactly one JSON document) on stdout."""
from __future__ import annotations

import os
import sys
from _thread import RLock  # threading's own RLock, without importing all of `threading`

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from typing import Any, TextIO


def silence(stream: TextIO) -> None:
    """Point a stream whose reader went away (`| head`) at /dev/null, so nothing later fails on it.

    Python's own advice for SIGPIPE: without it the flush at exit raises BrokenPipeError again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a stream without a descriptor (a test's capture)
        pass


def emit(stream: TextIO, text: str) -> bool:
    """Write and flush `text`; False (and the stream silenced) when its reader has closed the pipe."""
    try:
        stream.write(text)
        stream.flush()
        return True
    except BrokenPipeError:
        silence(stream)
        return False


class Console:
    """Where every byte cmng prints goes through.

    In `--json` mode stdout carries exactly one document: `result()` on success, or
    `failure()` on any error (then the document holds `error` and `exit_code`).
    """

    def __init__(self, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        self.modes: dict[str, str] = {}  # port -> the link mode used there ("at" or "shell")
        self.printed = False  # a result (or failure) document has gone out
        self.partial: dict = {}  # fields a failure document should carry (e.g. a query's response)
        self._bar: Any = None
        self._bar_stage: str | None = None
        self._lock = RLock()  # fleet threads report progress and notes concurrently

    # messages -----------------------------------------------------------------
    def note(self, message: str) -> None:
        self._close_bar()
        emit(sys.stderr, f"cmng: {message}\n")

    def warn(self, message: str) -> None:
        self._close_bar()
        emit(sys.stderr, f"cmng: warning: {message}\n")

    def error(self, message: str) -> None:
        self._close_bar()
        emit(sys.stderr, f"cmng: error: {message}\n")

    def trace(self, direction: str, text: str) -> None:
        for index, line in enumerate(text.split("\n")):  # a write per line, as a line-buffered stderr did
            emit(sys.stderr, f"{direction if index == 0 else ' '} {line}\n")

    # progress -------------------------------------------------------------------
    @property
    def interactive(self) -> bool:
        """Progress is drawn only for a person: stderr a terminal and not --json."""
        return not self.json_mode and sys.stderr.isatty()

    def progress(self, stage: str, percent: float | None) -> None:
        """Report a long wait; tqdm is imported only when a bar is actually drawn."""
        if not self.interactive:
            return
        with self._lock:
            self._draw(stage, percent)

    def _draw(self, stage: str, percent: float | None) -> None:
        if stage == "done":
            self._close_bar()
            return
        if self._bar is None or self._bar_stage != stage:
            self._close_bar()
            from tqdm import tqdm

            self._bar = tqdm(total=100 if percent is not None else None, desc=stage, file=sys.stderr, leave=False,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}|" if percent is not None else "{desc} {elapsed}")
            self._bar_stage = stage
        if percent is not None:
            self._bar.n = min(100.0, max(0.0, percent))
        self._bar.refresh()

    def _close_bar(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar, self._bar_stage = None, None

    # results --------------------------------------------------------------------
    def result(self, document: dict, text: str | None) -> None:
        """The command's outcome: `document` in --json mode, else `text` (if any)."""
        self._close_bar()
        if document.get("port") in self.modes:
            document = {**document, "mode": self.modes[document["port"]]}
        if self.json_mode:
            self._dump(document)
        elif text:
            self.out(text if text.endswith("\n") else text + "\n")

    def out(self, text: str) -> None:
        """Exactly `text` on stdout; a reader that stopped early (`| head`) is not an error."""
        emit(sys.stdout, text)

    def failure(self, message: str, exit_code: int, **fields: Any) -> None:
        """One `cmng: error:` line, and in --json mode the one document (unless a result went out already)."""
        self.error(message)
        if self.json_mode and not self.printed:
            error = {"message": message, "exit_code": exit_code, **{k: v for k, v in fields.items() if v is not None}}
            self._dump({**self.partial, "error": error, "exit_code": exit_code})

    def _dump(self, document: dict) -> None:
        import json  # only --json output needs it

        self.printed = True
        self.out(json.dumps(document, indent=2) + "\n")

    @staticmethod
    def table(rows: list[list[str]], header: list[str]) -> str:
        widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=False)).rstrip() for row in [header] + rows]
        return "\n".join(lines) + "\n"
