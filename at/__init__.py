"""Manage TLS credentials in Nordic nRF91 modems over AT commands.

    import at
    with at.SoC("/dev/ttyACM0") as soc:        # or "sim://demo", a simulated kit
        print(soc.get_imei())
        soc.write_credential(1234, at.CRED_TYPE_PSK, "a1b2c3d4")
"""
from __future__ import annotations

import serial as _serial

# Make sim://NAME reachable through serial.serial_for_url, like pyserial's own loop://.
if "at.sim" not in _serial.protocol_handler_packages:
    _serial.protocol_handler_packages.append("at.sim")

__version__ = "1.0.0"

# `import at` runs before every cmng command, so it imports nothing but pyserial: the names below
# and the submodules a user reaches as `at.psk`, `at.ports`, ... are imported on first use (PEP 562).
# Error classes defined next to the job that raises them (files, manifest, ...) load with that job.
# No module imports `typing` at run time (it costs every run ~4 ms): annotations are strings
# (`from __future__ import annotations`), and names only a type checker needs are imported under
# `TYPE_CHECKING = False; if TYPE_CHECKING:`, the flag typing would give, spelled without it.
_EXPORTS = {
    "credentials": ("CRED_TYPE_CLIENT_CERT", "CRED_TYPE_CLIENT_PRIVATE_KEY", "CRED_TYPE_PSK", "CRED_TYPE_PSK_IDENTITY",
                    "CRED_TYPE_PUBLIC_KEY", "CRED_TYPE_ROOT_CA", "NRF_CLOUD_SEC_TAG", "CredType"),
    "errors": ("ATError", "ATTimeoutError", "CMEError", "CommandError", "FlashError", "PortError", "ProtocolError",
               "ValidationError", "VerificationError", "AnswerCutError", "Interrupted", "ModemFirmwareError",
               "UnknownBoardError", "FirmwareError"),
    "fetch_errors": ("NoNetworkError", "NotPublishedError", "ServerError", "RedirectError", "TruncatedError",
                     "ChecksumError", "DiskFullError", "CacheError", "NoBuildError"),
    "soc": ("CFUN_MODE_NORMAL", "CFUN_MODE_OFFLINE", "CFUN_MODE_OFFLINE_KEEP_UICC", "CFUN_MODE_POWER_OFF",
            "CFUN_MODE_RX_ONLY", "Credential", "SoC"),
    "files": ("FileError",),
    "manifest": ("ManifestError",),
    "flashing": ("AtClientUnavailable",),
    "link.shell": ("ShellTimeoutError",),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = frozenset({"cli", "credentials", "errors", "files", "flashing", "ports", "programmer", "protocol",
                         "psk", "pskfile", "sim", "soc", "transport"})


def __getattr__(name: str) -> object:
    import importlib

    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value  # looked up once
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME, *_SUBMODULES})


__all__ = [name for names in _EXPORTS.values() for name in names]
