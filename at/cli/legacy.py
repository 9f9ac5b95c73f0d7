"""The original `at` tool's form: `cmng [OPTIONS] OPERATION SERIAL_PORT [OPTIONS]`.

With the command first, argparse sub-commands already take options before or after
the port. The one extra case is options *before* the operation: the operation is
moved to the front, skipping option values so that `--content list` stays content.
"""
from __future__ import annotations

# Options of the original tool that take no value; every other option takes one (unless written --opt=value).
_FLAGS = frozenset({
    "-h", "--help", "--version", "-x", "--program_hex", "--program-hex", "--power_off", "--power-off", "--json",
    "-v", "-vv", "-vvv", "--verbose", "--no-verify", "--no_verify", "--show-psk", "--show_psk",
})


def reorder(argv: list[str], commands: dict | frozenset) -> list[str]:
    """Move the first positional that names a command to the front; everything else keeps its order."""
    if not argv or argv[0] in commands:
        return argv
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            return argv
        if token.startswith("-") and token != "-":
            index += 1 if (token in _FLAGS or "=" in token or not token.startswith("--") and len(token) > 2) else 2
            continue
        if token in commands:
            return [token] + argv[:index] + argv[index + 1:]
        return argv  # the first positional is no command: main() reports it
    return argv
