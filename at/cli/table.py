"""The command table: name -> (module in at.cli, one-line help). Order is the order `--help` shows."""
from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("cmd_list", "list stored credentials (sec_tag, type, SHA-256)"),
    "read": ("cmd_read", "read a credential (root CA or PSK identity) to stdout or a file"),
    "write": ("cmd_write", "write a credential after checking it"),
    "delete": ("cmd_delete", "delete a credential"),
    "query": ("cmd_query", "send any AT command and print the answer"),
    "imei": ("cmd_imei", "print the modem's IMEI"),
    "ports": ("cmd_ports", "list attached Nordic kits and which answer AT"),
    "psk": ("cmd_psk", "give kits a new PSK each and record them in a Mosquitto psk_file"),
}
