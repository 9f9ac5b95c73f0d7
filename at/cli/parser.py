"""The full argparse parser: `--help`, every usage error, and every command line the quick path leaves.

Imported only then (see at/cli/quickparse.py): argparse costs every cmng run ~4 ms to import.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys

from .. import __version__
from .exitcodes import UsageError, table_text
from .table import COMMANDS, load

NRF_CLOUD_NOTE = "WARNING: nrf_cloud relies on credentials with sec_tag 16842753."


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(message)


class Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter with the width found without `shutil`.

    argparse makes a formatter for every option it adds, and its default one imports
    `shutil` (with bz2 and lzma) for the terminal width: a cost on every run, help or not.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:
            width = _columns() - 2  # as argparse does
        super().__init__(prog, indent_increment, max_help_position, width)


@functools.cache  # argparse makes a formatter for every option it adds: ask the terminal once
def _columns() -> int:
    """$COLUMNS, else the terminal's width, else 80 (what `shutil.get_terminal_size` answers)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def fill(text: str, width: int = 79) -> str:
    """`text`'s words in lines of at most `width` characters (`textwrap.fill`, which costs more to import than this)."""
    lines = [""]
    for word in text.split():
        if lines[-1] and len(lines[-1]) + 1 + len(word) > width:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}" if lines[-1] else word
    return "\n".join(lines)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The cmng parser; only the `selected` command's module is imported and given its options.

    With a command selected, the other commands get no sub-parser: only `cmng --help` lists them.
    """
    parser = Parser(prog="cmng", description="Manage TLS credentials in Nordic nRF91 modems over AT commands.",
                    epilog=f"{NRF_CLOUD_NOTE}\n\n'cmng COMMAND --help' shows a command's options and an example.\n\n"
                           f"exit codes:\n{table_text()}",
                    formatter_class=Formatter)
    parser.add_argument("--version", action="version", version=f"cmng {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, prog="cmng")  # prog: no usage to format
    for name, (_, text) in COMMANDS.items():
        if name != selected:
            if selected is None:  # only listed in `cmng --help`: no -h of its own to build
                sub.add_parser(name, help=text, formatter_class=Formatter, add_help=False)
            continue
        module = load(name)
        setup = getattr(module, "EXAMPLE_SETUP", None)  # a command the example needs first (e.g. a backup)
        example = f"{setup}\n  {module.EXAMPLE}" if setup else module.EXAMPLE
        command = sub.add_parser(name, help=text, description=fill(module.HELP),
                                 epilog=f"example:\n  {example}\n\nexit codes: see 'cmng --help'",
                                 formatter_class=Formatter)
        module.add_arguments(command)
        parser.set_defaults(_command_parser=command)
    return parser
