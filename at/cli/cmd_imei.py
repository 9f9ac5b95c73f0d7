"""cmng imei: the bare IMEI, for scripts."""
from __future__ import annotations

from . import options
from .context import Context
from .exitcodes import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = "Print the modem's IMEI (AT+CGSN), nothing else."
EXAMPLE = "cmng imei sim://demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser)
    options.add_link_args(parser)
    options.add_flash_args(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    port, imei = ctx.run_on_soc(lambda soc: (soc.port, soc.get_imei()))
    ctx.console.result({"port": port, "imei": imei}, imei)
    return EXIT_OK
