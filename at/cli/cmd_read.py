"""cmng read: a readable credential (root CA, PSK identity) to stdout or a file."""
from __future__ import annotations

import os
import stat

from .. import credentials
from ..errors import ValidationError
from . import options
from .context import Context
from .exitcodes import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Read a credential back from the modem. Only root CA certificates (type 0) and PSK identities (type 4) "
        "can be read; 'list' shows the SHA-256 of the others.")
EXAMPLE = "cmng read sim://demo --sec-tag 16842753 --cred-type 0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser)
    options.add_sec_tag(parser)
    options.add_cred_type(parser)
    parser.add_argument(*options.spellings("-o", "--out_file"), dest="out_file", metavar="PATH",
                        help="write the credential to this regular file (replaced atomically) instead of stdout; "
                             "'-' is stdout")
    options.add_link_args(parser)
    options.add_flash_args(parser)


def check_out_file(path: str) -> str:
    """The real path to write: a regular file (existing or new) in an existing folder; never a device or folder."""
    if not path:
        raise ValidationError("the output file name is empty: give a file name, or '-' for stdout")
    real = os.path.realpath(path)  # through symlinks: the link stays, its target is replaced
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        folder = os.path.dirname(real) or "."
        if not os.path.isdir(folder):
            raise ValidationError(f"cannot write {path}: the folder {folder} does not exist") from None
        return real
    except OSError as exc:
        raise ValidationError(f"cannot write {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise ValidationError(f"cannot write {path}: it is a folder; give a file name inside it")
    if not stat.S_ISREG(mode):
        raise ValidationError(f"cannot write {path}: it is not a regular file (a device or pipe); "
                              "use '-o -' or a shell redirect for those")
    return real


def run(args: argparse.Namespace, ctx: Context) -> int:
    credentials.check_sec_tag(args.sec_tag, writing=False)
    credentials.check_readable(args.cred_type)
    target = check_out_file(args.out_file) if args.out_file not in (None, "-") else None
    port, content = ctx.run_on_soc(lambda soc: (soc.port, soc.read_credential(args.sec_tag, args.cred_type)))
    con = ctx.console
    if target is not None:
        from ..files import atomic_write

        secret = args.cred_type in credentials.SECRET_TYPES
        try:
            atomic_write(target, content.encode("utf-8"), 0o600 if secret else 0o644)
        except OSError as exc:
            raise ValidationError(f"cannot write {args.out_file}: {exc.strerror or exc}") from None
        con.note(f"wrote sec_tag {args.sec_tag} type {args.cred_type} to {args.out_file}")
    doc = {"port": port, "sec_tag": args.sec_tag, "cred_type": args.cred_type, "content": content}
    if con.json_mode:
        con.result(doc, None)
    elif target is None:
        con.out(content)
    return EXIT_OK
