"""`main()`: build the parser from the command table, run one command, map every error to its exit code."""
from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
from types import ModuleType

from .. import __version__
from ..errors import ATError
from . import legacy
from .console import Console, silence
from .context import Context
from .exitcodes import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, EXIT_VALIDATION, UsageError, exit_code_for, table_text
from .table import COMMANDS

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


def load(name: str) -> ModuleType:
    """The module of command `name`, imported only now (keeps `cmng --help` free of heavy imports)."""
    return importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")


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


def _parse(argv: list[str]) -> argparse.Namespace:
    first = argv[0] if argv else None
    parser = build_parser(first if first in COMMANDS else None)
    if first is not None and not first.startswith("-") and first not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(first, list(COMMANDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f": use one of {', '.join(COMMANDS)}"
        parser.print_usage(sys.stderr)
        raise UsageError(f"unknown command '{first}'{hint}")
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        raise UsageError(f"a command is required: one of {', '.join(COMMANDS)} ('cmng --help' explains them)")
    if extra:  # reported by the command's own parser: its usage, and what it does not take
        args._command_parser.error(f"{args.command} does not take {' '.join(extra)} "
                                   f"('cmng {args.command} --help' lists what it takes)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run cmng with `argv` (default: sys.argv[1:]) and return its exit code; never raises."""
    # argparse asks gettext for a translation of each of its phrases while parsers are built, and gettext
    # imports `locale` and looks for catalogue files each time: ~2 ms a run. cmng's text is English only,
    # so argparse's phrases are used as they are.
    argparse._ = str
    argv = legacy.reorder(list(sys.argv[1:] if argv is None else argv), COMMANDS)
    console = Console(json_mode="--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv)
    try:
        args = _parse(argv)
        console.json_mode = bool(getattr(args, "json", False))
        return load(args.command).run(args, Context(args, console))
    except UsageError as exc:
        console.failure(str(exc), EXIT_USAGE)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt as exc:
        detail = getattr(exc, "detail", None)  # at.errors.Interrupted says what state the kit was left in
        if detail:
            console.failure(f"interrupted: {detail}", EXIT_INTERRUPTED)
        elif console.json_mode and not console.printed:
            console.failure("interrupted", EXIT_INTERRUPTED)
        else:
            console.note("interrupted")
        return EXIT_INTERRUPTED
    except ATError as exc:
        code = exit_code_for(exc)
        console.failure(str(exc), code, type=type(exc).__name__, cme_error=getattr(exc, "code", None))
        return code
    except UnicodeError as exc:  # text from argv or a file the modem's ASCII cannot carry
        console.failure(f"text cannot be sent to the modem: {exc}", EXIT_VALIDATION)
        return EXIT_VALIDATION
    except BrokenPipeError:  # e.g. --help into '| head': what was wanted went out
        silence(sys.stdout)
        return EXIT_OK
    except Exception as exc:  # a bug: one line, the traceback only with -v
        if "-v" in argv or "--verbose" in argv:
            import traceback

            traceback.print_exc()
        console.failure(f"internal error ({type(exc).__name__}: {exc}); please report it", EXIT_FAILURE)
        return EXIT_FAILURE
