"""Loggers that import `logging` only when a record can go somewhere.

`logging` (with traceback, tokenize, string, threading) costs more start-up time than
the rest of `cmng imei`, and the library only logs debug details and rare warnings.
While no one has imported `logging`, no handler can exist, so a debug or info record
would be dropped anyway: those calls return at once. Warnings and errors always
import it (with no handler configured, Python prints them through its last resort).
"""
from __future__ import annotations

import sys


class Logger:
    """The slice of `logging.Logger` the library uses: `debug`, `info`, `warning`, `error`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _log(self, method: str, msg: str, *args: object) -> None:
        import logging

        getattr(logging.getLogger(self.name), method)(msg, *args, stacklevel=3)

    def debug(self, msg: str, *args: object) -> None:
        if "logging" in sys.modules:
            self._log("debug", msg, *args)

    def info(self, msg: str, *args: object) -> None:
        if "logging" in sys.modules:
            self._log("info", msg, *args)

    def warning(self, msg: str, *args: object) -> None:
        self._log("warning", msg, *args)

    def error(self, msg: str, *args: object) -> None:
        self._log("error", msg, *args)


def getLogger(name: str) -> Logger:  # noqa: N802  (the name `logging` gives it)
    return Logger(name)
