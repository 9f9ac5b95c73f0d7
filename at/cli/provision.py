"""What plan, apply and restore share: the manifest loaded before any kit, plans per kit, the one question, the report.

Kits are planned in parallel (one `AT%CMNG=1` each), the plans shown as one table,
then applied in parallel with the fleet runner; a kit that fails is reported with
the slot it stopped at, and the others go on.
"""
from __future__ import annotations

import sys

from ..errors import ValidationError
from ..manifest import Manifest, ManifestError, load
from ..plan import Action, Applied, Plan, apply_plan, make_plan
from ..soc import SoC
from . import options
from .console import Console
from .context import Context
from .exitcodes import EXIT_CHANGES, EXIT_OK, EXIT_SOME_KITS, UsageError, exit_code_for
from .fleet import Outcome, check_distinct, run_each

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse


def add_arguments(parser: argparse.ArgumentParser, *, many: bool, confirm: bool) -> None:
    options.add_port_args(parser, many=many)
    parser.add_argument("-f", "--file", dest="manifest", required=True, metavar="MANIFEST",
                        help="the manifest (TOML) that says what the kit should hold")
    if confirm:
        parser.add_argument("-y", "--yes", action="store_true",
                            help="apply without asking (needed when there is no terminal to ask on)")
    options.add_link_args(parser)


def load_manifest(args: argparse.Namespace, console: Console) -> Manifest:
    """The manifest, every problem refused before a port is opened: one `error:` line per problem."""
    try:
        return load(args.manifest)
    except ManifestError as exc:
        console.partial["manifest_errors"] = exc.errors
        for line in exc.errors[:-1]:
            console.error(line)
        raise ValidationError(exc.errors[-1]) from None


def check_ports(args: argparse.Namespace, ctx: Context) -> list[str]:
    ports = ctx.ports(args.ports if hasattr(args, "ports") else [args.port])
    check_distinct(ports, "name each kit once")
    return ports


def check_can_ask(args: argparse.Namespace) -> None:
    if not args.yes and not sys.stdin.isatty():
        raise UsageError(f"{args.command} changes kits and there is no terminal to ask on: add --yes")


def plan_all(ports: list[str], manifest: Manifest, ctx: Context,
             keep: dict[str, SoC] | None = None) -> list[Outcome[Plan]]:
    """Plan every kit in parallel. With `keep`, each kit's port stays open there for the apply that follows,
    so the kit that is applied is the kit that was planned, and no other program can take the port between."""
    def job(port: str) -> Plan:
        soc = ctx.open_soc(port)
        try:
            plan = make_plan(soc, manifest)
        except BaseException:
            soc.close()
            raise
        if keep is None:
            soc.close()
        else:
            keep[port] = soc
        return plan

    return run_each(ports, job)


def plan_rows(plans: list[Outcome[Plan]]) -> list[list[str]]:
    rows = []
    for outcome in plans:
        if not outcome.ok:
            rows.append([outcome.port, "-", "-", "FAILED", str(outcome.error)])
            continue
        for step in outcome.value.steps:  # type: ignore[union-attr]
            rows.append([outcome.port, str(step.sec_tag), step.type_key, step.action.value,
                         step.reason])
    return rows


PLAN_HEADER = ["PORT", "SEC_TAG", "TYPE", "ACTION", "DETAIL"]


def plan_doc(outcome: Outcome[Plan]) -> dict:
    if outcome.ok:
        return {**outcome.value.as_dict(), "ok": True}  # type: ignore[union-attr]
    return {"port": outcome.port, "ok": False, "error": str(outcome.error), "exit_code": exit_code_for(outcome.error)}  # type: ignore[arg-type]


def failed_code(failures: list[Outcome], total: int) -> int | None:
    if not failures:
        return None
    return exit_code_for(failures[0].error) if total == 1 else EXIT_SOME_KITS  # type: ignore[arg-type]


def warn_steps(plans: list[Outcome[Plan]], console: Console, hash_only: str) -> None:
    """Say aloud what apply will not do (slots known only by SHA-256) and what it does at nRF Cloud's tag."""
    for outcome in plans:
        for step in outcome.value.steps if outcome.ok else []:  # type: ignore[union-attr]
            if step.action == Action.WARN:
                hashed = step.entry is not None and step.entry.kind == "sha256"
                why = f"{step.reason.split(';')[0]}; {hash_only}" if hashed else step.reason
                console.warn(f"{outcome.port}: {step.slot_name}: {why}")
            if step.warning:
                console.warn(f"{outcome.port}: {step.warning}")


def confirm(args: argparse.Namespace, console: Console, changes: int, kits: int) -> bool:
    if args.yes:
        return True
    print(f"cmng: apply {changes} change(s) to {kits} kit(s)? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def apply_all(plans: list[Outcome[Plan]], manifest: Manifest, ctx: Context, opened: dict[str, SoC]) -> dict[str, Applied]:
    """Apply every kit's plan in parallel, on the ports `plan_all` kept open; converged kits get nothing."""
    todo = {o.port: o.value for o in plans if o.ok and not o.value.converged}  # type: ignore[union-attr]
    total = sum(len(p.changes) for p in todo.values()) or 1
    done: list[object] = []

    def tick(step: object) -> None:
        done.append(step)
        ctx.console.progress("applying", 100.0 * len(done) / total)

    outcomes = run_each(list(todo), lambda port: apply_plan(opened[port], todo[port], manifest, on_step=tick))
    ctx.console.progress("done", None)
    results = {o.port: o.value or Applied(o.port, failed=todo[o.port].changes[0], error=o.error) for o in outcomes}
    for o in plans:
        if o.ok and o.port not in results:
            results[o.port] = Applied(o.port, imei=o.value.imei)  # type: ignore[union-attr]
    return results


def run_apply(args: argparse.Namespace, ctx: Context, *, restore: bool = False) -> int:
    """apply (several kits) and restore (one kit, from a backup): plan, show, ask, apply, report."""
    con = ctx.console
    manifest = load_manifest(args, con)
    ports = check_ports(args, ctx)
    check_can_ask(args)
    opened: dict[str, SoC] = {}
    try:
        return _plan_and_apply(args, ctx, manifest, ports, opened, restore)
    finally:
        for soc in opened.values():
            soc.close()


def _plan_and_apply(args: argparse.Namespace, ctx: Context, manifest: Manifest, ports: list[str],
                    opened: dict[str, SoC], restore: bool) -> int:
    con = ctx.console
    plans = plan_all(ports, manifest, ctx, keep=opened)
    if not con.json_mode:  # the plan first; the one JSON document comes at the end
        con.result({}, con.table(plan_rows(plans), PLAN_HEADER))
    hash_only = ("known only by SHA-256 in the backup, so it cannot be restored: write it yourself" if restore
                 else "known only by SHA-256 in the manifest, so it is not written")
    warn_steps(plans, con, hash_only)
    ready = [o for o in plans if o.ok]
    changes = sum(len(o.value.changes) for o in ready)  # type: ignore[union-attr]
    if changes and not confirm(args, con, changes, sum(1 for o in ready if not o.value.converged)):  # type: ignore[union-attr]
        con.note("nothing was changed")
        con.result({"manifest": args.manifest, "applied": False, "kits": [plan_doc(o) for o in plans],
                    "exit_code": EXIT_CHANGES}, None)
        return EXIT_CHANGES
    results = apply_all(plans, manifest, ctx, opened) if changes else {o.port: Applied(o.port, o.value.imei) for o in ready}  # type: ignore[union-attr]
    docs, rows = [], []
    for outcome in plans:
        doc = plan_doc(outcome)
        if outcome.ok:
            applied = results[outcome.port]
            doc.update(applied.as_dict())
            doc["exit_code"] = EXIT_OK if applied.ok else exit_code_for(applied.error or applied.restore_error)  # type: ignore[arg-type]
            doc["not_restorable" if restore else "not_written"] = [
                s.as_dict() for s in outcome.value.steps  # type: ignore[union-attr]
                if s.action == Action.WARN and s.entry is not None and s.entry.kind == "sha256"]
            rows.append([outcome.port, applied.state if applied.ok else "FAILED: " + applied.state])
            for path in applied.files:
                con.note(f"{outcome.port}: wrote {path}")
            if not applied.ok:
                con.error(f"{outcome.port}: {applied.state}")
        else:
            rows.append([outcome.port, f"FAILED before any change: {outcome.error}"])
            con.error(f"{outcome.port}: {outcome.error}")
        docs.append(doc)
    failures = [d for d in docs if not d["ok"]]
    code = EXIT_OK if not failures else failures[0]["exit_code"] if len(docs) == 1 else EXIT_SOME_KITS
    con.result({"manifest": args.manifest, "applied": True, "kits": docs, "exit_code": code},
               con.table(rows, ["PORT", "RESULT"]))
    if failures and len(docs) > 1:
        con.note(f"{len(failures)} of {len(docs)} kits failed; the others are as the manifest says")
    return code
