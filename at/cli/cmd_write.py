"""cmng write: one credential, checked before anything is sent, verified by SHA-256 after."""
from __future__ import annotations

import sys

from .. import credentials
from ..errors import ValidationError
from ..protocol import sha256_hex
from . import options
from .context import Context
from .exitcodes import EXIT_OK
from .modem import credential_doc, nrf_cloud_warning, writable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Write a credential. PEM content is parsed first, a PSK (type 3) is hex (as 'xxd -p' prints it, over "
        "several lines if need be), an identity (type 4) printable ASCII. The stored SHA-256 is compared after.")
EXAMPLE = "cmng write sim://demo --sec-tag 42 --cred-type 4 --content nrf-demo"

CONTENT_CAP = 16 * 1024  # more than any modem slot holds: larger input is a mistake, not a credential


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser)
    options.add_sec_tag(parser)
    options.add_cred_type(parser)
    content = parser.add_mutually_exclusive_group(required=True)
    content.add_argument("--content", metavar="CONTENT",
                         help="the content itself (visible in shell history: prefer --content_path for secrets)")
    content.add_argument(*options.spellings("--content_path"), dest="content_path", metavar="PATH",
                         help=f"read the content from a file; '-' reads standard input (at most {CONTENT_CAP} bytes)")
    parser.add_argument("--passwd", metavar="PRIVATE_KEY_PASSWD", help="password of an encrypted private key (type 2)")
    parser.add_argument(*options.spellings("--no_verify"), dest="verify", action="store_false",
                        help="do not compare the stored SHA-256 after the write")
    options.add_power_off(parser)
    options.add_link_args(parser)
    options.add_flash_args(parser)


def _read_capped(handle: object, what: str) -> bytes:
    data = handle.read(CONTENT_CAP + 1)  # type: ignore[attr-defined]  # never more: /dev/zero must not hang
    if len(data) > CONTENT_CAP:
        raise ValidationError(f"{what} holds more than {CONTENT_CAP} bytes, more than any credential slot: "
                              "is it the right file?")
    return data


def read_content(args: argparse.Namespace, ctx: Context) -> bytes:
    if args.content is not None:
        if args.cred_type in credentials.SECRET_TYPES:
            ctx.console.warn(f"--content puts the {credentials.type_name(args.cred_type)} in your shell history and "
                             "the process list; prefer --content_path FILE or --content_path - (standard input)")
        try:
            data = args.content.encode("utf-8")
        except UnicodeEncodeError as exc:  # undecodable argv bytes arrive as surrogates
            raise ValidationError(f"the content has a byte at position {exc.start} that is not text (UTF-8): "
                                  "the modem stores ASCII text") from None
        if len(data) > CONTENT_CAP:
            raise ValidationError(f"the content has more than {CONTENT_CAP} bytes, more than any credential slot")
        return data
    if args.content_path == "-":
        return _read_capped(sys.stdin.buffer, "standard input")
    try:
        with open(args.content_path, "rb") as handle:
            return _read_capped(handle, args.content_path)
    except OSError as exc:
        raise ValidationError(f"cannot read {args.content_path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace, ctx: Context) -> int:
    content = read_content(args, ctx)
    # refuse bad content before any port is opened or kit flashed
    credentials.check_sec_tag(args.sec_tag, writing=True)
    prepared = credentials.prepare(args.cred_type, content, args.passwd)  # validated once: the write takes it as-is
    con = ctx.console

    def work(soc):  # noqa: ANN001
        if args.sec_tag == credentials.NRF_CLOUD_SEC_TAG and soc.list_credentials(args.sec_tag, args.cred_type):
            nrf_cloud_warning(args.sec_tag, con, "overwriting")
        with writable(soc, args, con):
            stored = soc.write_credential(args.sec_tag, args.cred_type, prepared, args.passwd, verify=args.verify)
            return soc.port, stored, soc.stored_note

    port, stored, stored_note = ctx.run_on_soc(work)
    written = credential_doc(stored)
    if stored_note:  # the AT shell stores a certificate with CRLF line endings: say so
        con.note(stored_note)
        written["line_endings"] = "CRLF"
    compared = args.verify and stored.sha256 is not None
    if args.verify and not compared:
        con.note("this firmware reports all-zero SHA-256 hashes, so the write cannot be verified (verified: false)")
    sha = stored.sha256 or sha256_hex(prepared.text)  # firmware without hashes: the hash of what was sent
    con.result({"port": port, "written": {**written, "sha256": sha}, "verified": compared},
               f"wrote sec_tag {stored.sec_tag} type {stored.cred_type} ({stored.type_name}), SHA-256 {sha}"
               + (" verified" if compared else " (not verified)"))
    return EXIT_OK

