"""`main()`: parse the command line, run one command, map every error to its exit code."""
from __future__ import annotations

import sys

from ..errors import ATError
from . import legacy
from .console import Console, silence
from .context import Context
from .exitcodes import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, EXIT_VALIDATION, UsageError, exit_code_for
from .table import COMMANDS, load

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse


class Arguments:
    """The parsed command line as attributes (what argparse.Namespace gives, without importing argparse)."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Arguments({', '.join(f'{key}={value!r}' for key, value in vars(self).items())})"


def _quick(argv: list[str]) -> Arguments | None:
    """A plain `cmng COMMAND ...` line read without argparse (at/cli/quickparse.py), or None."""
    from . import quickparse

    if not argv or argv[0] not in COMMANDS:
        return None
    recorder = quickparse.Recorder()
    try:
        load(argv[0]).add_arguments(recorder)
    except quickparse.Defer:
        return None
    values = quickparse.parse(recorder, argv[1:])
    if values is None:
        return None
    return Arguments(command=argv[0], _command_parser=None, **values)


def _parse(argv: list[str]) -> Arguments | argparse.Namespace:
    quick = _quick(argv)
    if quick is not None:
        return quick
    from .parser import build_parser

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
