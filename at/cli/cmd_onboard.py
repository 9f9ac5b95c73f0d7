"""cmng onboard: a key born in each kit, a client certificate signed by your CA, both verified on the kit."""
from __future__ import annotations

from . import options
from .cmd_ca import add_passphrase_args, passphrase
from .context import Context
from .exitcodes import EXIT_OK, EXIT_SOME_KITS, exit_code_for

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

    from ..ca import CA

HELP = ("Onboard kits with your own CA: in each kit make a key pair (AT%KEYGEN; the private key never leaves the "
        "modem), check the CSR against the digest the modem signed, sign a client certificate with the CA (subject "
        "from the CSR, CA:false, clientAuth), write the CA as type 0 and the certificate as type 1 at the sec_tag, "
        "verify both by SHA-256 and restore CFUN. No private key is ever written from the host. Several kits run in "
        "parallel, one line each; exit 9 when some failed.")
EXAMPLE = "cmng onboard sim://kit1 sim://kit2 --sec-tag 42 --ca-dir my-ca --create-ca"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..ca import DEFAULT_CERT_DAYS

    options.add_port_args(parser, many=True)
    options.add_sec_tag(parser)
    group = parser.add_argument_group("your CA (--ca_cert and --ca_key, or --ca_dir)")
    group.add_argument(*options.spellings("--ca_cert"), dest="ca_cert", metavar="CA.pem",
                       help="your CA's certificate (e.g. from 'cmng ca create')")
    group.add_argument(*options.spellings("--ca_key"), dest="ca_key", metavar="CA.key",
                       help="your CA's private key (never printed)")
    group.add_argument(*options.spellings("--ca_dir"), dest="ca_dir", metavar="DIR",
                       help="a folder holding ca.pem and ca.key, as 'cmng ca create --out DIR' makes them")
    group.add_argument(*options.spellings("--create_ca"), dest="create_ca", action="store_true",
                       help="with --ca_dir: make a new development CA there first if it holds none")
    add_passphrase_args(parser, "passphrase of an encrypted CA key (visible in the process list: prefer "
                                "--passphrase_file)")
    parser.add_argument("--days", type=options.int_range(1, 36500, "days"), default=DEFAULT_CERT_DAYS,
                        help="certificate validity in days, never beyond the CA's (default: %(default)s)")
    parser.add_argument("--cn", choices=("uuid", "imei"), default="uuid",
                        help="certificate common name: the device UUID (the modem's default) or the IMEI "
                             "(default: %(default)s)")
    options.add_link_args(parser)


def _load_ca(args: argparse.Namespace, ctx: Context) -> CA:
    import os

    from .. import ca
    from .exitcodes import UsageError

    if args.ca_dir is None:
        if args.ca_cert is None or args.ca_key is None or args.create_ca:
            raise UsageError("name your CA: --ca_cert CA.pem and --ca_key CA.key, or --ca_dir DIR [--create_ca]")
        return ca.load(args.ca_cert, args.ca_key, passphrase(args))
    if args.ca_cert is not None or args.ca_key is not None:
        raise UsageError("--ca_dir names both CA files: give it, or --ca_cert and --ca_key, not both")
    cert, key = os.path.join(args.ca_dir, ca.CERT_NAME), os.path.join(args.ca_dir, ca.KEY_NAME)
    if args.create_ca and not os.path.lexists(cert) and not os.path.lexists(key):
        ca.create(args.ca_dir, passphrase=passphrase(args))
        ctx.console.note(f"made a new development CA in {args.ca_dir} ({ca.CERT_NAME}, {ca.KEY_NAME})")
    args.ca_cert = cert
    return ca.load(cert, key, passphrase(args))


def run(args: argparse.Namespace, ctx: Context) -> int:
    from .. import credentials, onboard
    from .fleet import check_distinct, run_each

    credentials.check_sec_tag(args.sec_tag, writing=True)
    authority = _load_ca(args, ctx)  # every CA problem is refused before any kit is touched
    ports = ctx.ports(args.ports)
    check_distinct(ports, "each kit is onboarded once per run")
    con = ctx.console

    results = {port: onboard.OnboardResult(port, args.sec_tag) for port in ports}  # kept also when a kit fails

    def job(port: str) -> onboard.OnboardResult:
        with ctx.open_soc(port) as soc:
            return onboard.onboard(soc, args.sec_tag, authority, days=args.days, cn=args.cn, result=results[port])

    outcomes = run_each(ports, job)
    docs, rows = [], []
    for o in outcomes:
        r = results[o.port]
        doc = {**r.as_dict(), "ok": o.ok, "error": None if o.ok else str(o.error),
               "exit_code": EXIT_OK if o.ok else exit_code_for(o.error)}  # type: ignore[arg-type]
        docs.append(doc)
        rows.append([o.port, r.device_uuid or "-", r.common_name or "-",
                     "FAILED" if not o.ok else "ok" if r.verified else "ok, not verified"])
    failed = [o for o in outcomes if not o.ok]
    code = EXIT_OK if not failed else exit_code_for(failed[0].error) if len(outcomes) == 1 else EXIT_SOME_KITS
    con.result({"sec_tag": args.sec_tag, "ca_cert": str(args.ca_cert), "results": docs, "exit_code": code},
               con.table(rows, ["PORT", "DEVICE UUID", "COMMON NAME", "RESULT"]))
    for o, doc in zip(outcomes, docs, strict=True):
        if not o.ok:
            state = {True: "the modem made a new key at type 2", False: "nothing changed on the kit",
                     None: "whether the modem made a new key at type 2 is unknown"}[doc["key_made"]]
            if doc["written"]:
                state += "; written and verified: " + ", ".join(f"type {t}" for t in doc["written"])
            con.error(f"{o.port}: {o.error} ({state} at sec_tag {args.sec_tag})")
    for o in outcomes:
        if o.ok and not results[o.port].verified:
            con.warn(f"{o.port}: written but not verified: this modem firmware lists no SHA-256 (1.3.2 and later do)")
    if failed and len(outcomes) > 1:
        con.note(f"{len(failed)} of {len(outcomes)} kits failed; the others are onboarded")
    return code
