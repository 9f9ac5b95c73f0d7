"""Steps several commands share around a change to the modem: CFUN handling and the nRF Cloud warning."""
from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from ..credentials import NRF_CLOUD_SEC_TAG
from ..soc import CFUN_INACTIVE_MODES, CFUN_MODE_POWER_OFF, SoC
from .console import Console


@contextlib.contextmanager
def writable(soc: SoC, args: argparse.Namespace, console: Console) -> Iterator[None]:
    """Make the modem accept write/delete: offline for the change, then back as it was (or off with --power_off)."""
    if getattr(args, "power_off", False):
        mode = soc.get_functional_mode()
        if mode not in CFUN_INACTIVE_MODES:
            console.note(f"modem is active (CFUN={mode}): powering it off (CFUN=0) as --power_off asks; it stays off")
            soc.set_functional_mode(CFUN_MODE_POWER_OFF)
        yield
        return
    with soc.offline() as mode:  # yields the mode it found, so CFUN is queried once
        if mode not in CFUN_INACTIVE_MODES:
            console.note(f"modem is active (CFUN={mode}): taking it offline (CFUN=4) for this, restoring CFUN={mode} after")
        yield


def nrf_cloud_warning(sec_tag: int, console: Console, verb: str) -> None:
    if sec_tag == NRF_CLOUD_SEC_TAG:
        console.warn(f"{verb} sec_tag {NRF_CLOUD_SEC_TAG}: nRF Cloud relies on these credentials; the kit cannot "
                     "connect to nRF Cloud until they are restored")


def credential_doc(cred: object) -> dict:
    return {"sec_tag": cred.sec_tag, "cred_type": cred.cred_type,  # type: ignore[attr-defined]
            "type_name": cred.type_name, "sha256": cred.sha256}  # type: ignore[attr-defined]
