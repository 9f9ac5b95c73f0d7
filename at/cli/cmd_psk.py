"""cmng psk: a new random PSK per kit, identity PREFIX+IMEI, recorded in a Mosquitto psk_file."""
from __future__ import annotations

from .. import psk
from ..credentials import NRF_CLOUD_SEC_TAG
from ..errors import ValidationError
from . import options
from .context import Context
from .exitcodes import EXIT_OK, EXIT_SOME_KITS, exit_code_for

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Give each kit a new random PSK (type 3) and the identity PREFIX+IMEI (type 4) at one sec_tag, verify "
        "both, then record identity:psk in a Mosquitto psk_file. Re-provisioning a kit replaces its previous PSK. "
        "Several kits are provisioned in parallel; the same kit twice is refused, and a sec_tag in Nordic's reserved "
        f"range ({NRF_CLOUD_SEC_TAG}, nRF Cloud's, and up) is warned about.")
EXAMPLE = "cmng psk sim://kit1 sim://kit2 --psk-file psk_file.txt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser, many=True)
    options.add_sec_tag(parser, required=False, default=psk.DEFAULT_SEC_TAG)
    parser.add_argument(*options.spellings("--psk_file"), dest="psk_file", default=psk.DEFAULT_PSK_FILE, metavar="PATH",
                        help="Mosquitto psk_file to update (default: %(default)s)")
    parser.add_argument(*options.spellings("--identity_prefix"), dest="identity_prefix",
                        default=psk.DEFAULT_IDENTITY_PREFIX, metavar="PREFIX",
                        help="the identity is PREFIX + IMEI (default: %(default)s)")
    parser.add_argument(*options.spellings("--psk_bytes"), dest="psk_bytes", default=psk.DEFAULT_PSK_BYTES,
                        type=options.int_range(1, 64, "psk_bytes"), help="PSK length in bytes (default: %(default)s)")
    parser.add_argument(*options.spellings("--show_psk"), dest="show_psk", action="store_true",
                        help="print the generated PSKs (they are secret)")
    options.add_link_args(parser)
    options.add_flash_args(parser)


def _check(args: argparse.Namespace, ctx: Context) -> list[str]:
    """Everything that can be refused is refused here, before any kit is touched."""
    psk.check_options(args.sec_tag, args.identity_prefix, args.psk_bytes, psk_file=args.psk_file)
    if (args.program_hex or args.program_app) and len(args.ports) > 1:
        raise ValidationError("flashing (-x, --program_app) works on one kit at a time: name one port")
    ports = ctx.ports(args.ports, require_answer=not args.program_hex)
    from .fleet import check_distinct

    check_distinct(ports, "each kit can be provisioned once per run")
    if args.sec_tag >= NRF_CLOUD_SEC_TAG:
        ctx.console.warn(f"sec_tag {args.sec_tag} is in Nordic's reserved range (nRF Cloud uses {NRF_CLOUD_SEC_TAG} "
                         "and up): the PSK and identity there replace what the kit's firmware may rely on")
    return ports


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..pskfile import read_psk_file

    ports = _check(args, ctx)
    con = ctx.console
    before = read_psk_file(args.psk_file)

    def note_offline(port: str, mode: int) -> None:
        con.note(f"{port}: modem was active (CFUN={mode}): offline for the writes, restored after")

    finished = []

    def tick(result: psk.Provisioned) -> None:
        finished.append(result)
        con.progress("provisioning kits", 100.0 * len(finished) / len(ports))

    def provision() -> list[psk.Provisioned]:
        if len(ports) > 1:
            con.progress("provisioning kits", 0.0)
        results = psk.provision_ports(ports, open_soc=ctx.open_soc, sec_tag=args.sec_tag, psk_file=args.psk_file,
                                      identity_prefix=args.identity_prefix, psk_bytes=args.psk_bytes,
                                      on_offline=note_offline, on_done=tick if len(ports) > 1 else None,
                                      checked=True)
        con.progress("done", None)
        return results

    results = ctx.with_firmware(ports[0], provision) if len(ports) == 1 else provision()
    docs, rows = [], []
    for r in results:
        shown = r.psk if args.show_psk and r.ok else None
        doc = {"port": r.port, "mode": con.modes.get(r.port),
               "ok": r.ok, "imei": r.imei if r.ok else None, "identity": r.identity if r.ok else None,
               "sec_tag": args.sec_tag, "error": None if r.ok else str(r.error),
               "exit_code": EXIT_OK if r.ok else exit_code_for(r.error),  # type: ignore[arg-type]
               "warning": r.warning}
        if shown:
            doc["psk"] = shown
        docs.append(doc)
        rows.append([r.port, doc["identity"] or "-", "ok" if r.ok else "FAILED"] + ([shown or "-"] if args.show_psk else []))
        if r.ok and r.settled:
            con.note(f"{r.port}: an earlier interrupted run's pending PSK for {r.identity} was {r.settled}")
        if r.ok and r.identity in before:
            con.note(f"{r.port}: replaced the previous PSK of {r.identity} at sec_tag {args.sec_tag}, "
                     f"on the kit and in {args.psk_file}")
    failed = [r for r in results if not r.ok]
    code = EXIT_OK if not failed else exit_code_for(failed[0].error) if len(results) == 1 else EXIT_SOME_KITS
    header = ["PORT", "IDENTITY", "RESULT"] + (["PSK"] if args.show_psk else [])
    con.result({"psk_file": str(args.psk_file), "results": docs, "exit_code": code}, con.table(rows, header))
    for r in failed:
        con.error(f"{r.port}: {r.error}")
        if r.warning:
            con.warn(f"{r.port}: {r.warning}")
    if failed and len(results) > 1:
        con.note(f"{len(failed)} of {len(results)} kits failed; the others are provisioned and recorded in "
                 f"{args.psk_file}")
    return code
