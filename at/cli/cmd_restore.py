"""cmng restore: put a backup onto a kit (the same one, or another)."""
from __future__ import annotations

from . import provision
from .context import Context

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Apply a backup's manifest to a kit. Slots the backup knows only by SHA-256 (client certificates, keys, "
        "PSKs: the firmware never lets them be read) cannot be restored: each is named in a warning line (and "
        "in --json), and the exit code is 0 when everything restorable was restored.")
EXAMPLE = "cmng restore sim://fresh -f demo-backup/manifest.toml --yes"
EXAMPLE_SETUP = "cmng backup sim://demo -o demo-backup"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    provision.add_arguments(parser, many=False, confirm=True)


def run(args: argparse.Namespace, ctx: Context) -> int:
    return provision.run_apply(args, ctx, restore=True)
