"""cmng apply: make kits hold what a manifest says, exactly the plan, several kits in parallel."""
from __future__ import annotations

from . import provision
from .context import Context

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Show the plan for each kit, ask (or --yes), then do exactly the plan: every write verified by SHA-256, "
        "the modem taken offline once per kit and its mode restored. A kit already as the manifest says gets no "
        "write and no delete. Several kits run in parallel; one failing leaves the others going, and each kit's "
        "state is reported (exit 9), with the slot where a failed kit stopped.")
EXAMPLE = "cmng apply sim://demo -f demo-backup/manifest.toml --yes"
EXAMPLE_SETUP = "cmng backup sim://demo -o demo-backup"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    provision.add_arguments(parser, many=True, confirm=True)


def run(args: argparse.Namespace, ctx: Context) -> int:
    return provision.run_apply(args, ctx)
