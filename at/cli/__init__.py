"""`cmng`, the command line: a command table over the library, in the style of mpremote.

The contract a new command follows (nothing else needs to change but one table row):

- `at/cli/table.py`: `COMMANDS` maps name -> (module name in `at.cli`, one-line help); its order is `--help`'s.
- `at/cli/cmd_<name>.py` defines
    `HELP: str`       the description `cmng <name> --help` shows,
    `EXAMPLE: str`    one command line that runs against `sim://` (shown in the help epilog; tests run it),
    `add_arguments(parser: argparse.ArgumentParser) -> None`,
    `run(args: argparse.Namespace, ctx: Context) -> int`   returns the exit code; raises `ATError` for failures.
  The module is imported only when its own sub-parser is built (lazy: `cmng --help` imports no command).
  `add_arguments` also runs against `quickparse.Recorder`, which reads plain lines without argparse: it takes
  add_argument (actions store, store_true, store_false, count), argument and mutually exclusive groups and
  set_defaults; anything else (sub-parsers, append, ...) sends that command to argparse every time.
  `args` is an `app.Arguments` or an `argparse.Namespace`: read it by attribute only.
- `at/cli/options.py`: shared groups, range-checked, underscore and dash spellings:
    `add_port_args(parser, many=False)` (`args.port`, or `args.ports` with many=True), `add_link_args`
    (--timeout/--baudrate/-v/--json), `add_json_arg`, `add_sec_tag(parser, required, default)`,
    `add_cred_type`, `add_power_off`, `add_flash_args` (-s/-x/--program_app/--at_client_hex/--programmer);
    types `int_range(low, high, what)`, `seconds`; `spellings("--sec_tag")` for a command's own options.
- `at/cli/context.py` `Context`: `ctx.console`, `ctx.args`, `ctx.open_soc(port) -> SoC` (baud rate, timeout,
    -v trace, redaction), `ctx.ports(list, require_answer=True)` resolves `auto`, `ctx.port()` the one port,
    `ctx.with_firmware(port, work)` runs work between -x and --program_app, `ctx.run_on_soc(work)` all of it.
- `at/cli/console.py` `Console`: `note`, `warn`, `error` (stderr), `progress(stage, percent|None)` (tqdm, only on
    a terminal and not --json), `table(rows, header)`, `result(document, text)` (exactly one JSON document in
    --json mode), `partial` (fields a failure document keeps), `interactive`.
- `at/cli/exitcodes.py`: `exit_code_for(exc)`, `EXIT_CODES` (the documented table), `UsageError` (exit 2 from run).
- `at/cli/fleet.py`: `run_each(ports, job) -> [Outcome(port, value, error)]`, one thread per port; a command on
    several kits returns `EXIT_SOME_KITS` (9) when some failed.
- `at/cli/legacy.py`: the original `cmng [OPTIONS] OPERATION PORT [OPTIONS]` form (operation moved to the front).

`main()` (at/cli/app.py) maps every error to one `cmng: error:` line and its exit code, never a traceback.
"""
from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run cmng; returns the exit code (`python -m at`, `cmng.py` and scripts of one's own call this)."""
    from .app import main as _main

    return _main(argv)


def console_main() -> None:
    """The `cmng` console script: `main()`, then leave without the interpreter's teardown.

    Tearing down every module and object costs a short command ~4 ms, a tenth of `cmng imei`, and
    nothing of cmng's waits for it: files are written, synced and closed, the port closed, the
    threads of a fleet are daemons, and the library's log lines reach stderr unbuffered.
    """
    import os
    import sys

    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (`| head`): nothing more to say
            pass
    os._exit(code)


__all__ = ["main", "console_main"]
