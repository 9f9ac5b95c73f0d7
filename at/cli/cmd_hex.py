"""cmng hex: Nordic's published at_client builds for -x: list them, fetch and verify them into the cache."""
from __future__ import annotations

from . import options
from .context import Context
from .exitcodes import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

    from ..firmware import Image, Manifest

HELP = ("Nordic's published at_client builds, which -x flashes (hex/README.md). 'list' shows each board, its "
        "sha256 and whether a verified copy is cached; 'fetch' downloads the named boards (all when none is "
        "named) into the user cache, keeps a file only when its size and sha256 match, and shows the license "
        "once. --from takes a folder or a base URL holding files of the same names, for stations without "
        "internet: then nothing else is contacted.")
EXAMPLE = "cmng hex list --json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="hex_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="each board, its sha256, and whether a verified copy is cached",
                                 description="Each board, its sha256, and whether (and where) a verified copy is cached.")
    options.add_json_arg(listing)
    fetch = actions.add_parser("fetch", help="download and verify builds into the cache (all boards when none named)",
                               description="Download the named boards' builds (all when none is named), verify size "
                                           "and sha256, keep them in the user cache, and print their paths.")
    fetch.add_argument("boards", nargs="*", metavar="BOARD", help="nrf9160dk, nrf9161dk, thingy91 or thingy91x")
    fetch.add_argument("--from", dest="source", metavar="URL_OR_DIR",
                       help="a folder, or a base URL, holding the same file names: used instead of Nordic's "
                            "publication, and nothing else is contacted")
    options.add_json_arg(fetch)


def how_to_get(board: str | None) -> str:
    """The command-line words for getting an at_client when -x has none (the library's error says why)."""
    from ..firmware import UNPUBLISHED

    build = "build at_client yourself (CONFIG_AT_HOST_CMD_MAX_LEN=4096, hex/README.md) and give it with --at_client_hex PATH"
    if board is None or board in UNPUBLISHED:
        return build
    return f"get it with 'cmng hex fetch {board}' (on a station without internet: --from DIR_OR_URL), or {build}"


def _doc(image: Image, path: object) -> dict:
    return {"board": image.board, "file": image.file, "size": image.size, "sha256": image.sha256,
            "cached": path is not None, "path": str(path) if path is not None else None}


def run(args: argparse.Namespace, ctx: Context) -> int:
    from .. import firmware

    manifest = firmware.load_manifest()
    if args.hex_action == "fetch":
        return _fetch(args, ctx, manifest)
    docs = [_doc(image, firmware.cached(image)) for image in manifest.images]
    rows = [[d["board"], d["sha256"], d["path"] or "not cached"] for d in docs]
    ctx.console.result({"boards": docs}, ctx.console.table(rows, ["BOARD", "SHA256", "CACHED"]))
    return EXIT_OK


def _fetch(args: argparse.Namespace, ctx: Context, manifest: Manifest) -> int:
    from .. import firmware

    con = ctx.console
    boards = list(dict.fromkeys(args.boards)) or manifest.boards()
    images = [manifest.image(board) for board in boards]  # an unknown board stops before any download
    docs = []
    for image in images:
        path = firmware.cached(image)
        if path is not None:
            con.note(f"{image.board}: a verified copy is already cached: {path}")
        else:
            path = firmware.fetch(image, source=args.source,
                                  progress=lambda name, done, total: con.progress(f"fetching {name}", 100.0 * done / total))
            con.progress("done", None)
            con.note(f"{image.board}: {image.file} verified (sha256 {image.sha256}): {path}")
        docs.append(_doc(image, path))
    con.note(f"license: {manifest.license_note} ({manifest.license_url})")
    con.result({"boards": docs}, "\n".join(d["path"] for d in docs))
    return EXIT_OK
