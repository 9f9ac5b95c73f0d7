"""cmng backup: a kit's readable credentials as files, and a manifest describing every slot."""
from __future__ import annotations

from . import options
from .context import Context
from .exitcodes import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Back up a kit into a folder: root CA certificates and PSK identities (what the firmware lets a host read) "
        "as files, and manifest.toml describing every slot; client certificates, keys and PSKs by SHA-256 only. "
        "Modem-owned tags (above 2147483647) are left out. Files are 0600, the folder 0700. "
        "'cmng plan' and 'cmng restore' take the manifest.")
EXAMPLE = "cmng backup sim://demo -o demo-backup"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_port_args(parser)
    parser.add_argument("-o", "--output", dest="output", required=True, metavar="DIR",
                        help="the folder to write (created if needed; an earlier backup there is replaced)")
    options.add_link_args(parser)
    options.add_flash_args(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..backup import backup
    from ..manifest import KEY_OF_TYPE

    con = ctx.console
    result = ctx.run_on_soc(lambda soc: backup(soc, args.output))
    for note in result.notes:
        con.warn(note)
    for cred, why in result.skipped:
        con.note(f"left out sec_tag {cred.sec_tag} type {cred.cred_type} ({cred.type_name}): {why}")
    hashed = [{"sec_tag": e.sec_tag, "cred_type": int(e.cred_type), "type": KEY_OF_TYPE[e.cred_type],
               "sha256": e.sha256} for e in result.hash_only]
    doc = {"port": result.port, "imei": result.imei, "manifest": str(result.manifest_path),
           "files": [str(p) for p in result.files], "hash_only": hashed,
           "skipped": [{"sec_tag": c.sec_tag, "cred_type": c.cred_type, "reason": why} for c, why in result.skipped],
           "notes": result.notes}
    rows = [[str(e.sec_tag), KEY_OF_TYPE[e.cred_type], e.path.name if e.path else "(SHA-256 only)"]
            for e in result.manifest.entries.values()]
    text = (con.table(rows, ["SEC_TAG", "TYPE", "FILE"]) + f"backed up {result.port} (IMEI {result.imei}) to "
            f"{result.manifest_path}; {len(hashed)} slot(s) by SHA-256 only (a restore cannot write them)")
    con.result(doc, text)
    return EXIT_OK
