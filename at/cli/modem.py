"""Steps several commands share around a change to the modem: CFUN handling and the nRF Cloud warning."""
from __future__ import annotations

from ..credentials import NRF_CLOUD_SEC_TAG
from ..soc import CFUN_INACTIVE_MODES, CFUN_MODE_POWER_OFF, Offline, SoC
from .console import Console

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse


class writable:  # lower case: used as `with writable(...)`, as the function it replaced
    """Make the modem accept write/delete: offline for the change, then back as it was (or off with --power_off).

    A class rather than a `contextlib` generator: that import would cost every cmng run ~1 ms.
    """

    def __init__(self, soc: SoC, args: argparse.Namespace, console: Console) -> None:
        self._soc, self._args, self._console = soc, args, console
        self._offline: Offline | None = None

    def __enter__(self) -> None:
        soc = self._soc
        if getattr(self._args, "power_off", False):
            mode = soc.get_functional_mode()
            if mode not in CFUN_INACTIVE_MODES:
                self._console.note(f"modem is active (CFUN={mode}): powering it off (CFUN=0) as --power_off asks; "
                                   "it stays off")
                soc.set_functional_mode(CFUN_MODE_POWER_OFF)
            return
        self._offline = soc.offline()
        mode = self._offline.__enter__()  # the mode it found, so CFUN is queried once
        if mode not in CFUN_INACTIVE_MODES:
            self._console.note(f"modem is active (CFUN={mode}): taking it offline (CFUN=4) for this, "
                               f"restoring CFUN={mode} after")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        return self._offline.__exit__(kind, exc, tb) if self._offline is not None else False


def nrf_cloud_warning(sec_tag: int, console: Console, verb: str) -> None:
    if sec_tag == NRF_CLOUD_SEC_TAG:
        console.warn(f"{verb} sec_tag {NRF_CLOUD_SEC_TAG}: nRF Cloud relies on these credentials; the kit cannot "
                     "connect to nRF Cloud until they are restored")


def credential_doc(cred: object) -> dict:
    return {"sec_tag": cred.sec_tag, "cred_type": cred.cred_type,  # type: ignore[attr-defined]
            "type_name": cred.type_name, "sha256": cred.sha256}  # type: ignore[attr-defined]
