"""cmng ports: attached Nordic kits, and which of them answer AT."""
from __future__ import annotations

from . import options
from .context import Context
from .exitcodes import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = "List attached Nordic kits (J-Link VID 0x1366, Nordic VID 0x1915) and whether their AT port answers."
EXAMPLE = "cmng ports --json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=options.seconds, default=1.0, metavar="SECONDS",
                        help="seconds to wait for each kit's answer to AT (default: %(default)s)")
    options.add_json_arg(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from .. import ports

    con = ctx.console
    kits = ports.find_kits()
    for index, kit in enumerate(kits):
        con.progress("probing kits for AT", 100.0 * index / len(kits))
        kit.responding, kit.note = ports.probe_port(kit.at_port, timeout=args.timeout)
    con.progress("done", None)
    docs = [{"serial_number": k.serial_number, "kit": k.name, "at_port": k.at_port, "ports": k.ports,
             "vid": f"0x{k.vid:04X}", "pid": f"0x{k.pid:04X}", "answers_at": k.responding, "note": k.note}
            for k in kits]
    rows = [[k.serial_number, k.name, k.at_port, "yes" if k.responding else f"no ({k.note})" if k.note else "no",
             " ".join(k.ports)] for k in kits]
    if not kits and not con.json_mode:
        con.note("no Nordic kit found on USB (J-Link VID 0x1366 or Nordic VID 0x1915)")
    con.result({"kits": docs}, con.table(rows, ["SERIAL", "KIT", "AT PORT", "ANSWERS AT", "PORTS"]) if kits else None)
    return EXIT_OK
