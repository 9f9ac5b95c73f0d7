"""Modem firmware versions as the simulator reports them (AT+CGMR), and what each version can do.

Kept apart from `at.sim.keygen` so that the modem can ask about its firmware without
importing cryptography (`cmng list` stays light).
"""
from __future__ import annotations

import re
import uuid

# Before SECURITY: no %KEYGEN CSR nor %ATTESTTOKEN. Before SHA: lists print all-zero hashes.
SECURITY = (1, 3, 0)
SHA = (1, 3, 2)

_MFW = re.compile(r"mfw_(nrf9160|nrf91x1)_(\d{1,3})\.(\d{1,3})\.(\d{1,3})([-_][A-Za-z0-9_.-]*)?")


def parse_mfw(text: str) -> tuple[str, tuple[int, int, int]]:
    """`mfw_nrf9160_1.2.3` -> ("nrf9160", (1, 2, 3)); ValueError for anything else."""
    match = _MFW.fullmatch(text)
    if not match:
        raise ValueError(f"expected a firmware version like mfw_nrf9160_1.3.5 or mfw_nrf91x1_2.0.2, got {text!r}")
    return match.group(1), (int(match.group(2)), int(match.group(3)), int(match.group(4)))


def version_of(revision: str) -> tuple[int, int, int]:
    return parse_mfw(revision)[1]


def firmware_uuid(revision: str) -> uuid.UUID:
    """The modem firmware's UUID (%XMODEMUUID): the same for every device running that firmware."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "nrf91-sim:" + revision)
