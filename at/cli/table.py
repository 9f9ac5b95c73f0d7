"""The command table: name -> (module in at.cli, one-line help). Order is the order `--help` shows."""
from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from types import ModuleType

COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("cmd_list", "list stored credentials (sec_tag, type, SHA-256)"),
    "read": ("cmd_read", "read a credential (root CA or PSK identity) to stdout or a file"),
    "write": ("cmd_write", "write a credential after checking it"),
    "delete": ("cmd_delete", "delete a credential"),
    "query": ("cmd_query", "send any AT command and print the answer"),
    "imei": ("cmd_imei", "print the modem's IMEI"),
    "ports": ("cmd_ports", "list attached Nordic kits and which answer AT"),
    "psk": ("cmd_psk", "give kits a new PSK each and record them in a Mosquitto psk_file"),
    "hex": ("cmd_hex", "Nordic's published at_client builds for -x: list, fetch and verify them"),
    "backup": ("cmd_backup", "save a kit's credentials as files and a manifest"),
    "plan": ("cmd_plan", "show what apply would change on kits (exit 10 if anything)"),
    "apply": ("cmd_apply", "make kits hold what a manifest says"),
    "restore": ("cmd_restore", "put a backup onto a kit"),
    "keygen": ("cmd_keygen", "make a key pair inside the modem and print its checked CSR"),
    "attest": ("cmd_attest", "print the device UUID, device type and firmware UUID (attestation token)"),
    "ca": ("cmd_ca", "ca create: make a development CA of your own"),
    "onboard": ("cmd_onboard", "key born in each kit, certificate signed by your CA, both verified"),
}


def load(name: str) -> ModuleType:
    """The module of command `name`, imported only now (keeps `cmng --help` free of heavy imports)."""
    return importlib.import_module(f"at.cli.{COMMANDS[name][0]}")
