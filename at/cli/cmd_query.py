"""cmng query: any AT command, its answer printed as the modem sent it."""
from __future__ import annotations

from ..errors import ValidationError
from . import options
from .context import Context
from .exitcodes import EXIT_OK, UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = "Send one AT command and print its answer (information lines and the final OK/ERROR)."
EXAMPLE = "cmng query sim://demo AT+CGMR"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser)
    parser.add_argument("at_command", nargs="?", metavar="AT_COMMAND", help="the command, e.g. AT+CGMR")
    parser.add_argument("-c", "--command", dest="command_option", metavar="AT_COMMAND",
                        help="the command (the original tool's spelling)")
    options.add_link_args(parser)
    options.add_flash_args(parser)


def _command(args: argparse.Namespace) -> str:
    if args.at_command and args.command_option:
        raise UsageError("give the AT command once: as AT_COMMAND or with -c, not both")
    command = args.at_command or args.command_option
    if not command:
        raise UsageError("no AT command given: e.g. 'cmng query PORT AT+CGMR'")
    if "\r" in command or "\n" in command:
        raise ValidationError("the AT command contains a line break, which would send a second command")
    try:
        command.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"the AT command has a non-ASCII character at position {exc.start}: "
                              "AT commands are ASCII") from None
    return command


def run(args: argparse.Namespace, ctx: Context) -> int:
    command = _command(args)
    con = ctx.console

    def work(soc):  # noqa: ANN001
        response = soc.response(command)
        lines = list(response.lines)
        doc = {"port": soc.port, "command": command, "response": lines, "final": response.final, "ok": response.ok}
        if response.ok:
            con.result(doc, "\n".join(lines + [response.final]))
        else:  # the failure document carries the response; text mode shows it before the error line
            con.partial = doc
            if not con.json_mode:
                con.result(doc, "\n".join(lines + [response.final]))
            soc.check(response)  # raises the explained error without resending the command
        return EXIT_OK

    return ctx.run_on_soc(work)
