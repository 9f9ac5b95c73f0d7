"""cmng delete: remove one credential."""
from __future__ import annotations

from .. import credentials
from . import options
from .context import Context
from .exitcodes import EXIT_OK
from .modem import nrf_cloud_warning, writable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = "Delete one credential (the modem is taken offline for it if active, and restored after)."
EXAMPLE = "cmng delete sim://demo --sec-tag 16842753 --cred-type 0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser)
    options.add_sec_tag(parser)
    options.add_cred_type(parser)
    options.add_power_off(parser)
    options.add_link_args(parser)
    options.add_flash_args(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    credentials.check_sec_tag(args.sec_tag, writing=True)
    credentials.check_cred_type(args.cred_type)
    nrf_cloud_warning(args.sec_tag, ctx.console, "deleting")

    def work(soc):  # noqa: ANN001
        with writable(soc, args, ctx.console):
            soc.delete_credential(args.sec_tag, args.cred_type)
        return soc.port

    port = ctx.run_on_soc(work)
    ctx.console.result({"port": port, "deleted": {"sec_tag": args.sec_tag, "cred_type": args.cred_type}},
                       f"deleted sec_tag {args.sec_tag} type {args.cred_type} ({credentials.type_name(args.cred_type)})")
    return EXIT_OK
