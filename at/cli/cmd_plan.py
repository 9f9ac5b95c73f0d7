"""cmng plan: what apply would change on each kit, from one credential list per kit."""
from __future__ import annotations

from . import provision
from .context import Context
from .exitcodes import EXIT_CHANGES, EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse

HELP = ("Compare kits with a manifest and list, per kit and slot (sec_tag and type), what apply would write, "
        "replace or delete, what is already right, and what differs but cannot be written (warn). One credential "
        "list per kit, compared by SHA-256; nothing is changed. Exit 0 when nothing would change, 10 when "
        "something would.")
EXAMPLE = "cmng plan sim://demo -f demo-backup/manifest.toml"
EXAMPLE_SETUP = "cmng backup sim://demo -o demo-backup"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    provision.add_arguments(parser, many=True, confirm=False)


def run(args: argparse.Namespace, ctx: Context) -> int:
    con = ctx.console
    manifest = provision.load_manifest(args, con)
    ports = provision.check_ports(args, ctx)
    plans = provision.plan_all(ports, manifest, ctx)
    failures = [o for o in plans if not o.ok]
    changes = any(o.ok and not o.value.converged for o in plans)  # type: ignore[union-attr]
    code = provision.failed_code(failures, len(plans)) or (EXIT_CHANGES if changes else EXIT_OK)
    con.result({"manifest": args.manifest, "changes": changes, "kits": [provision.plan_doc(o) for o in plans],
                "exit_code": code}, con.table(provision.plan_rows(plans), provision.PLAN_HEADER))
    for outcome in failures:
        con.error(f"{outcome.port}: {outcome.error}")
    for outcome in plans:
        if outcome.ok:
            plan = outcome.value
            counts = {a: sum(1 for s in plan.steps if s.action == a) for a in ("write", "replace", "delete", "warn")}
            summary = ", ".join(f"{n} to {a}" if a != "warn" else f"{n} warning(s)" for a, n in counts.items() if n)
            con.note(f"{outcome.port}: {summary or 'nothing to change'}")
    return code
