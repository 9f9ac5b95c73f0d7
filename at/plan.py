"""Diff a kit against a manifest, and apply the difference exactly.

`make_plan` costs one `AT%CMNG=1` list (plus the IMEI, for per-kit overrides):
the SHA-256 the modem reports answers almost every question, so content is read
only where old firmware prints no hash and the type can be read. `apply_plan`
does what the plan says and nothing else: a converged kit gets no write and no
delete, and the modem goes offline once per kit, its mode restored after.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from . import plan_keygen, pskfile
from .credentials import NRF_CLOUD_SEC_TAG, READABLE_TYPES, CredType, type_name
from .errors import ATError, ValidationError
from .manifest import KEY_OF_TYPE, Entry, Manifest
from .protocol import sha256_hex
from .soc import Credential, SoC


class Action(str, Enum):
    WRITE = "write"  # the slot is empty
    REPLACE = "replace"  # the slot holds something else
    DELETE = "delete"  # the manifest says absent
    OK = "ok"  # already right
    WARN = "warn"  # differs or unknown, and cannot be put right from this manifest (known only by SHA-256)


CHANGES = (Action.WRITE, Action.REPLACE, Action.DELETE)


@dataclass(frozen=True)
class Step:
    """One slot of one kit: what is there (`current`), what the manifest wants, and what apply will do."""

    sec_tag: int
    cred_type: CredType
    action: Action
    reason: str
    current: str | None = None  # SHA-256 on the kit (None: empty, or not reported)
    wanted: str | None = None  # SHA-256 the manifest asks for (None: generated, or absent)
    entry: Entry | None = field(default=None, repr=False)
    warning: str | None = None  # said aloud even when the action goes ahead (nRF Cloud tag)

    @property
    def type_key(self) -> str:
        """The manifest's name for the type (`ca`, `client_key`, ...)."""
        return KEY_OF_TYPE.get(self.cred_type, type_name(self.cred_type))

    @property
    def slot_name(self) -> str:
        return f"sec_tag {self.sec_tag} {self.type_key}"

    @property
    def changes(self) -> bool:
        return self.action in CHANGES

    def as_dict(self) -> dict:
        """For JSON output: plain types, hashes only (never content)."""
        return {"sec_tag": self.sec_tag, "cred_type": int(self.cred_type),
                "type": self.type_key, "action": self.action.value,
                "reason": self.reason, "current_sha256": self.current, "wanted_sha256": self.wanted,
                "warning": self.warning}


@dataclass
class Plan:
    """What one kit needs. `steps` in the order apply takes them."""

    port: str
    imei: str
    steps: list[Step]

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.changes]

    @property
    def warnings(self) -> list[Step]:
        return [s for s in self.steps if s.action == Action.WARN or s.warning]

    @property
    def converged(self) -> bool:
        return not self.changes

    def as_dict(self) -> dict:
        return {"port": self.port, "imei": self.imei, "converged": self.converged,
                "steps": [s.as_dict() for s in self.steps]}


@dataclass
class Applied:
    """How far apply got on one kit: `done` steps, and where it stopped (`failed`, `error`) if it did."""

    port: str
    imei: str | None = None
    done: list[Step] = field(default_factory=list)
    failed: Step | None = None
    error: BaseException | None = None
    restore_error: BaseException | None = None  # CFUN could not be put back
    files: list[str] = field(default_factory=list)  # written on the host: CSRs (and certificates) of keys made

    @property
    def ok(self) -> bool:
        return self.error is None and self.restore_error is None

    def as_dict(self) -> dict:
        slot = (lambda s: {"sec_tag": s.sec_tag, "cred_type": int(s.cred_type), "action": s.action.value})  # noqa: E731
        return {"port": self.port, "imei": self.imei, "ok": self.ok, "state": self.state,
                "done": [slot(s) for s in self.done], "stopped_at": slot(self.failed) if self.failed else None,
                "error": str(self.error) if self.error else None,
                "restore_error": str(self.restore_error) if self.restore_error else None, "files": self.files}

    @property
    def state(self) -> str:
        """One line a person can act on."""
        if self.ok:
            return f"{len(self.done)} change(s) applied" if self.done else "already as the manifest says"
        if self.error is None:
            return f"{len(self.done)} change(s) applied, but the modem's mode was not restored: {self.restore_error}"
        where = f"stopped at {self.failed.slot_name} ({self.failed.action.value})" if self.failed else "stopped"
        text = f"{where} after {len(self.done)} change(s): {self.error}"
        if self.restore_error and self.error:
            text += f"; the modem's mode was not restored: {self.restore_error}"
        return text


# ------------------------------------------------------------ psk_file (issue 13 owns its format)

def _psk_record(path: Path, identity: str, psk: str | None = None) -> str | None:
    """The one place this module touches the psk_file: read `identity`'s PSK, or record `psk` for it."""
    try:
        if psk is None:
            return pskfile.read_psk_file(path).get(identity)
        pskfile.update_psk_file(path, identity, psk)
        return psk
    except OSError as exc:
        raise ATError(f"cannot {'read' if psk is None else 'update'} the psk_file {path}: {exc.strerror or exc}") from None


# ------------------------------------------------------------ plan

def _nrf_cloud(tag: int, action: Action) -> str | None:
    if tag == NRF_CLOUD_SEC_TAG and action in CHANGES:
        return (f"{action.value} at sec_tag {NRF_CLOUD_SEC_TAG}: nRF Cloud relies on these credentials; "
                "the kit cannot connect to nRF Cloud until they are restored")
    return None


def _diff(entry: Entry, listed: Credential | None, read: Callable[[], str], manifest: Manifest,
          slots: dict) -> tuple[Action, str]:
    have = listed is not None
    sha = listed.sha256 if listed else None
    if entry.kind == "absent":
        return (Action.DELETE, "present, manifest says absent") if have else (Action.OK, "absent")
    if entry.kind == "generate":
        identity = generated_identity(slots, entry)
        if not have:
            return Action.WRITE, "empty: a new PSK will be generated"
        recorded = _psk_record(manifest.psk_file, identity) if manifest.psk_file and identity else None
        if recorded is None:
            return Action.REPLACE, f"psk_file has no PSK for identity {identity!r}: a new one will be generated"
        if sha is None or sha256_hex(recorded) == sha:
            return Action.OK, "matches the PSK recorded in psk_file" if sha else "recorded in psk_file (hash not reported)"
        return Action.REPLACE, "differs from the PSK recorded in psk_file: a new one will be generated"
    if entry.kind == "sha256":
        if sha == entry.sha256:
            return Action.OK, "SHA-256 matches"
        why = "empty" if not have else "hash not reported by the firmware" if sha is None else "SHA-256 differs"
        return Action.WARN, f"{why}; the manifest has only its SHA-256, so it cannot be written: give its content or path"
    if not have:
        return Action.WRITE, "empty"
    if sha is not None:
        return (Action.OK, "SHA-256 matches") if sha == entry.sha256 else (Action.REPLACE, "SHA-256 differs")
    if entry.cred_type in READABLE_TYPES:  # old firmware: no hash, but this type can be read and compared
        same = sha256_hex(read()) == entry.sha256
        return (Action.OK, "content matches (read back)") if same else (Action.REPLACE, "content differs (read back)")
    return Action.WARN, "hash not reported by the firmware and the type cannot be read: left as it is"


def generated_identity(slots: dict, entry: Entry) -> str | None:
    """The identity a generated PSK is recorded under: the content of the same sec_tag's identity slot."""
    identity = slots.get((entry.sec_tag, CredType.PSK_IDENTITY))
    return identity.content if identity is not None else None


def _order(step: Step) -> tuple:
    """Deletes first; then by sec_tag, the identity before its PSK (the psk_file names it)."""
    return (step.action != Action.DELETE, step.sec_tag, 5 if step.cred_type == CredType.PSK else int(step.cred_type))


def make_plan(soc: SoC, manifest: Manifest) -> Plan:
    """Compare the kit on `soc` with `manifest`: one list, no writes. Slots the manifest does not name are left out."""
    imei = soc.get_imei()
    listed = {(c.sec_tag, c.cred_type): c for c in soc.list_credentials()}
    slots = manifest.for_imei(imei)
    steps = []
    for (tag, kind), entry in slots.items():
        if entry.kind == "content" and entry.content is not None:  # as the link stores it (the AT shell: CRLF)
            entry = replace(entry, sha256=soc.stored_sha256(entry.content))
        found = listed.get((tag, int(kind)))
        if entry.generator == "keygen":
            action, reason = plan_keygen.diff(entry, listed)
        else:
            action, reason = _diff(entry, found, lambda t=tag, k=kind: soc.read_credential(t, k), manifest, slots)
        steps.append(Step(tag, kind, action, reason, found.sha256 if found else None, entry.sha256, entry,
                          _nrf_cloud(tag, action)))
    return Plan(soc.port, imei, sorted(steps, key=_order))


# ------------------------------------------------------------ apply

def _do(soc: SoC, step: Step, manifest: Manifest, imei: str) -> list[str]:
    """Carry out one step; returns the files written on the host (a made key's CSR), if any."""
    entry = step.entry
    if entry is not None and entry.generator == "keygen":
        return plan_keygen.make(soc, entry, imei)
    if step.action == Action.DELETE:
        soc.delete_credential(step.sec_tag, step.cred_type)
    elif entry is not None and entry.generator == "psk":
        identity = generated_identity(manifest.for_imei(imei), entry)
        if manifest.psk_file is None or identity is None:  # load() refuses such manifests; a hand-made one may not
            raise ValidationError(f"{step.slot_name}: a generated PSK needs psk_file and the tag's identity")
        psk = secrets.token_hex(entry.psk_bytes)
        soc.write_credential(step.sec_tag, step.cred_type, psk)  # verified before it is recorded
        _psk_record(manifest.psk_file, identity, psk)
    elif entry is not None and entry.content is not None:
        soc.write_credential(step.sec_tag, step.cred_type, entry.content, entry.passwd)
    else:
        raise ValidationError(f"{step.slot_name}: nothing to write")
    return []


def apply_plan(soc: SoC, plan: Plan, manifest: Manifest,
               on_step: Callable[[Step], None] | None = None) -> Applied:
    """Carry out `plan` on the kit it was made for; never raises for the kit's sake, returns how far it got.

    Each write is verified by the SHA-256 the modem lists after it. The modem is
    taken offline once, only if there is something to change, and put back after.
    """
    result = Applied(port=soc.port, imei=plan.imei)
    if plan.converged:
        return result
    offline = False
    try:
        imei = soc.get_imei()
        if imei != plan.imei:
            raise ValidationError(f"{soc.port} is now the kit with IMEI {imei}, not {plan.imei} the plan was made for: "
                                  "plan again")
        with soc.offline():
            offline = True
            for step in plan.changes:
                try:
                    result.files.extend(_do(soc, step, manifest, imei))
                except ATError as exc:
                    result.failed, result.error = step, exc
                    break
                result.done.append(step)
                if on_step:
                    on_step(step)
    except ATError as exc:  # steps catch their own: this is the IMEI check, going offline, or coming back
        if offline:
            result.restore_error = exc
        else:
            result.error = exc
    return result
