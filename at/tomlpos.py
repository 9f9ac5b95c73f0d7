"""Where a key sits in a TOML text, so an error can name the line.

`tomllib` gives values, never positions. This scanner reads the text once and
records the line of every table header and every `key =` line under its full key
path. It understands what manifests use (tables, dotted and quoted keys, inline
tables, multi-line strings); for anything else it answers with the nearest
enclosing table, which is still the right place to look.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

_BARE = r"[A-Za-z0-9_-]+"
_KEY = rf'(?:{_BARE}|"[^"\n]*"|\'[^\'\n]*\')'
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=\s*(.*)$")
_INLINE_KEY = re.compile(rf"(?:^|[{{,])\s*({_DOTTED})\s*=")


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(_KEY, text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


class Positions:
    """Key path -> 1-based line number, for one TOML text."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        closing: str | None = None  # the delimiter of an open multi-line string
        for number, line in enumerate(text.splitlines(), start=1):
            if closing is not None:
                if closing in line:
                    closing = None
                continue
            header = _HEADER.match(line)
            if header:
                table = _split_key(header.group(1))
                self._record(table, number)
                continue
            assign = _ASSIGN.match(line)
            if not assign:
                continue
            path = table + _split_key(assign.group(1))
            self._record(path, number)
            value = assign.group(2)
            if value.startswith("{"):  # inline table: its keys live on this line
                for inner in _INLINE_KEY.finditer(value):
                    self.lines.setdefault(path + _split_key(inner.group(1)), number)
            for delimiter in ('"""', "'''"):
                if value.startswith(delimiter) and value.count(delimiter) == 1:
                    closing = delimiter

    def _record(self, path: tuple[str, ...], number: int) -> None:
        """A table is first mentioned where any key below it first is (`[a.b.c]` defines `a` and `a.b`)."""
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], number)

    def line(self, path: Sequence[str]) -> int | None:
        """The line of `path`, else of its nearest recorded ancestor; None for the top level."""
        path = tuple(str(p) for p in path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None
