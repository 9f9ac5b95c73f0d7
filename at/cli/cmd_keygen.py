"""cmng keygen: a key pair made inside the modem; its CSR, checked, to stdout or a file."""
from __future__ import annotations

from . import options
from .cmd_read import check_out_file
from .context import Context
from .exitcodes import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Make a P-256 key pair inside the modem (AT%KEYGEN) at a sec_tag, as its client key (type 2): the private "
        "key never leaves the modem. Prints the CSR (PEM) after checking it against the SHA-256 the modem signed "
        "(COSE); --json adds the device UUID. Needs modem firmware 1.3.0 or later; an active modem is taken offline "
        "for it and restored after.")
EXAMPLE = "cmng keygen sim://demo --sec-tag 42 -o csr.pem"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser)
    options.add_sec_tag(parser)
    parser.add_argument(*options.spellings("-o", "--out_file"), dest="out_file", metavar="PATH",
                        help="write the CSR to this file (replaced atomically) instead of stdout; '-' is stdout")
    parser.add_argument("--subject", metavar="ATTRIBUTES",
                        help='subject of the CSR, e.g. "O=Acme,CN=kit-1" (default: the modem\'s, CN=<device UUID>)')
    parser.add_argument(*options.spellings("--key_usage"), dest="key_usage", metavar="BITS",
                        help="nine 0/1 characters, digitalSignature first, e.g. 111010000 (default: the modem's)")
    options.add_link_args(parser)
    options.add_flash_args(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from .. import credentials, keygen

    credentials.check_sec_tag(args.sec_tag, writing=True)
    keygen.build_command(args.sec_tag, args.subject, args.key_usage)  # refuse bad input before opening the port
    target = check_out_file(args.out_file) if args.out_file not in (None, "-") else None
    port, made = ctx.run_on_soc(lambda soc: (soc.port, soc.keygen(args.sec_tag, args.subject, args.key_usage)))
    con = ctx.console
    if target is not None:
        from ..errors import ValidationError
        from ..files import atomic_write

        try:
            atomic_write(target, made.csr_pem.encode("ascii"), 0o644)
        except OSError as exc:
            raise ValidationError(f"cannot write {args.out_file}: {exc.strerror or exc}") from None
        con.note(f"wrote the CSR to {args.out_file}")
    if made.repaired:
        con.note("the modem's CSR carried a NULL signature parameter (older firmware); re-encoded without it")
    con.note(f"{port}: key pair made in the modem at sec_tag {args.sec_tag} (type 2); device UUID {made.device_uuid}")
    con.result({"port": port, **made.as_dict()}, None if target is not None else made.csr_pem)
    return EXIT_OK
