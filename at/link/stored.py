"""What a link does to a credential's text on its way into the modem, asked without knowing the link.

at_host stores a string parameter exactly as sent. The AT shell cannot carry a line break
and sends `\\n`, which CONFIG_AT_SHELL_UNESCAPE_LF turns into CR LF: a certificate is then
stored, and hashed, with CRLF line endings. `SoC` asks these functions, so it stays the
same over either link; a link opts in by defining `stored_form` / `explain_stored`.
"""
from __future__ import annotations

from .. import protocol


def check_command(link: object, command: str) -> None:
    """Refuse, before sending, a command this link cannot carry (the at_host length rule by default)."""
    getattr(link, "check_command", protocol.check_length)(command)


def stored_form(link: object, text: str) -> str:
    """The text as the modem will store it after this link."""
    return getattr(link, "stored_form", str)(text)


def stored_note(link: object, sec_tag: int, cred_type: int, text: str) -> str | None:
    """One line for the user when what is stored differs from the content given."""
    if stored_form(link, text) == text:
        return None
    return (f"sec_tag {sec_tag} type {cred_type} is stored with CRLF line endings (the AT shell's "
            "CONFIG_AT_SHELL_UNESCAPE_LF turns each line break into CR LF); its SHA-256 is that of the CRLF text")


def explain_mismatch(link: object, sec_tag: int, cred_type: int, text: str, sha256: str) -> str | None:
    """Why the listed hash differs from the expected one, when the link knows (else None)."""
    explain = getattr(link, "explain_stored", None)
    return explain(sec_tag, cred_type, text, sha256) if explain else None
