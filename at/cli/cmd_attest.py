"""cmng attest: which device, of which type, runs which modem firmware (AT%ATTESTTOKEN)."""
from __future__ import annotations

from . import options
from .context import Context
from .exitcodes import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Ask the modem for its attestation token (AT%ATTESTTOKEN) and print what it says: the device UUID "
        "(what nRF Cloud claims a device by), the device type and the modem firmware UUID. --json adds the raw "
        "token. Needs modem firmware 1.3.0 or later; works in any CFUN mode.")
EXAMPLE = "cmng attest sim://demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser)
    options.add_link_args(parser)
    options.add_flash_args(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    port, token = ctx.run_on_soc(lambda soc: (soc.port, soc.attest()))
    text = (f"device UUID:   {token.device_uuid}\ndevice type:   {token.device_type_name}\n"
            f"firmware UUID: {token.firmware_uuid}\n")
    ctx.console.result({"port": port, **token.as_dict()}, text)
    return EXIT_OK
