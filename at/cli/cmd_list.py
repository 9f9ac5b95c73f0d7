"""cmng list: the credentials the modem holds."""
from __future__ import annotations

from . import options
from .context import Context
from .exitcodes import EXIT_OK
from .modem import credential_doc

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = "List the credentials stored in the modem: sec_tag, type and the SHA-256 the modem reports."
EXAMPLE = "cmng list sim://demo --sec-tag 16842753"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser)
    options.add_sec_tag(parser, required=False)
    options.add_cred_type(parser, required=False)
    options.add_link_args(parser)
    options.add_flash_args(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    con = ctx.console
    found = ctx.run_on_soc(lambda soc: (soc.port, soc.list_credentials(args.sec_tag, args.cred_type)))
    port, creds = found
    rows = [[str(c.sec_tag), str(c.cred_type), c.type_name, c.sha256 or "(not reported)"] for c in creds]
    if not creds and not con.json_mode:
        con.note("no credentials match")
    con.result({"port": port, "credentials": [credential_doc(c) for c in creds]},
               con.table(rows, ["SEC_TAG", "TYPE", "NAME", "SHA-256"]) if creds else None)
    return EXIT_OK
