"""cmng ca create: a P-256 CA of your own for development."""
from __future__ import annotations

from . import options
from .context import Context
from .exitcodes import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Make a development CA: 'cmng ca create --out DIR' creates DIR (and its parents) with a self-signed P-256 "
        "certificate (ca.pem, basicConstraints CA:TRUE) and its key (ca.key, 0600 from the start, encrypted with "
        "--passphrase). An existing CA is never overwritten. 'cmng onboard' signs kits' certificates with it.")
EXAMPLE = "cmng ca create --out my-ca"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..ca import DEFAULT_CA_DAYS

    parser.add_argument("action", choices=("create",), help="create: make a new CA")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for ca.pem and ca.key (created)")
    parser.add_argument("--cn", default="nrf91-at development CA", metavar="NAME",
                        help="the CA's common name (default: %(default)s)")
    parser.add_argument("--days", type=options.int_range(1, 36500, "days"), default=DEFAULT_CA_DAYS,
                        help="validity in days (default: %(default)s)")
    add_passphrase_args(parser, "encrypt ca.key with this passphrase (visible in the process list: prefer "
                                "--passphrase_file)")
    options.add_json_arg(parser)


def add_passphrase_args(parser: argparse.ArgumentParser, text: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--passphrase", metavar="PASSPHRASE", help=text)
    group.add_argument(*options.spellings("--passphrase_file"), dest="passphrase_file", metavar="PATH",
                       help="read the passphrase from the first line of this file ('-': standard input)")


def passphrase(args: argparse.Namespace) -> str | None:
    """The passphrase from --passphrase or --passphrase_file, or None."""
    import sys

    from ..errors import ValidationError

    if args.passphrase_file is None:
        return args.passphrase
    try:
        if args.passphrase_file == "-":
            line = sys.stdin.readline()
        else:
            with open(args.passphrase_file, encoding="utf-8") as handle:
                line = handle.readline()
    except (OSError, UnicodeError) as exc:
        raise ValidationError(f"cannot read the passphrase from {args.passphrase_file}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
    text = line.rstrip("\r\n")
    if not text:
        raise ValidationError(f"{args.passphrase_file} holds no passphrase on its first line")
    return text


def run(args: argparse.Namespace, ctx: Context) -> int:
    from .. import ca

    cert_path, key_path = ca.create(args.out, common_name=args.cn, days=args.days, passphrase=passphrase(args))
    encrypted = bool(args.passphrase or args.passphrase_file)
    text = f"CA certificate: {cert_path}\nCA key:         {key_path} (0600{', encrypted' if encrypted else ''})\n"
    ctx.console.result({"ca_cert": str(cert_path), "ca_key": str(key_path), "encrypted": encrypted}, text)
    return EXIT_OK
