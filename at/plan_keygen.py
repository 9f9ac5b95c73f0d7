"""`generate = "keygen"` in a manifest: how a plan sees the slot, and how apply fills it.

The key is made in the modem by %KEYGEN (type 2 at the tag; the host never writes
a private key) only where the kit has none: a key present is kept, never replaced by
a manifest (a plan that made a new key on every apply would never converge; delete
the key to renew it). Its CSR is saved as the manifest says; with a CA the slot is
onboarded exactly as `cmng onboard` does it (`at.onboard`), the certificate saved too.
"""
from __future__ import annotations

from .credentials import CredType
from .files import FileError, atomic_write
from .manifest import Entry, KeygenSpec
from .protocol import sha256_hex

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from .plan import Action
    from .soc import SoC


def diff(entry: Entry, kit: dict) -> tuple[Action, str]:
    """A key made in the modem: made where none is; a key present is kept (never replaced: delete it to renew)."""
    from .plan import Action

    ca = entry.keygen.ca if entry.keygen else None
    if (entry.sec_tag, int(CredType.CLIENT_PRIVATE_KEY)) not in kit:
        signed = "; the CA signs its CSR, and the CA and client certificate are written" if ca else ""
        return Action.WRITE, f"empty: the modem will make a key (%KEYGEN), its CSR saved{signed}"
    if ca is None:
        return Action.OK, "a key is present (kept: a key is never replaced by a manifest; delete it to make a new one)"
    root, cert = kit.get((entry.sec_tag, int(CredType.ROOT_CA))), kit.get((entry.sec_tag, int(CredType.CLIENT_CERT)))
    if cert is None or root is None:
        return Action.WARN, ("a key is present without the CA and client certificate; a new certificate needs a new "
                             "key: delete the key (type 2) and apply again")
    if root.sha256 is not None and root.sha256 != sha256_hex(ca.cert_pem):
        return Action.WARN, "a key is present, but the CA stored is not ca_cert: delete the key (type 2) and apply again"
    return Action.OK, "a key is present with its CA and client certificate (kept)"


def make(soc: SoC, entry: Entry, imei: str) -> list[str]:
    """Make the key in the modem (type 2; the host never writes it); save its CSR; with a CA, onboard as `cmng onboard`."""
    spec = entry.keygen or KeygenSpec()
    csr_path = spec.csr_path(imei, entry.sec_tag)
    try:  # before the key is made: a CSR that cannot be saved must not cost a key
        csr_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileError(f"cannot make the folder {csr_path.parent} for the CSR: {exc.strerror or exc}") from None
    if spec.ca is None:
        csr_pem, cert_pem = soc.keygen(entry.sec_tag).csr_pem, None
    else:
        from . import ca as ca_module
        from .onboard import onboard

        done = onboard(soc, entry.sec_tag, spec.ca, days=spec.days or ca_module.DEFAULT_CERT_DAYS, cn=spec.cn)
        csr_pem, cert_pem = done.csr_pem, done.certificate_pem
    files = [(csr_path, csr_pem, "CSR")]
    if cert_pem:  # beside the CSR: kit.44.csr.pem -> kit.44.crt.pem
        name = csr_path.name.replace(".csr", ".crt", 1) if ".csr" in csr_path.name else csr_path.name + ".crt.pem"
        files.append((csr_path.with_name(name), cert_pem, "certificate"))
    for path, pem, what in files:
        try:
            atomic_write(path, (pem or "").encode("ascii"), 0o644)
        except FileError as exc:
            raise FileError(f"the key was made in the modem at sec_tag {entry.sec_tag}, but its {what} was not saved "
                            f"({exc}): delete the key (type 2) and apply again") from None
    return [str(path) for path, _, _ in files]
