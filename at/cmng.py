"""%CMNG on an open `SoC`: list, read, write (verified by SHA-256) and delete credentials.

The rules of %CMNG (tags, types, content) are enforced by `at.credentials` before a
byte is sent; this module turns them into commands and the modem's lines into
`Credential`s. `SoC`'s credential methods delegate here.
"""
from __future__ import annotations

from collections import namedtuple

from . import credentials, protocol
from .errors import ProtocolError, VerificationError
from .link import stored

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from .soc import SoC


class Credential(namedtuple("Credential", "sec_tag cred_type sha256")):
    """One stored credential as listed by the modem: `sec_tag: int`, `cred_type: int`, `sha256: str | None`.

    `sha256` is None where the firmware printed an all-zero placeholder. Indexable
    like the original library's `[sec_tag, cred_type, sha]` lists.
    (`collections.namedtuple` rather than `typing.NamedTuple`: importing typing costs every run ~4 ms.)
    """

    __slots__ = ()

    @property
    def type_name(self) -> str:
        return credentials.type_name(self.cred_type)


def parse_listed(line: str) -> Credential:
    """A `%CMNG: <tag>,<type>,"<sha>"` list line as a `Credential`; `ProtocolError` when it is not one."""
    try:
        tag, kind, sha = protocol.info_params(line, "%CMNG")[:3]
    except ValueError:
        raise ProtocolError(f"cannot parse a %CMNG list line: {line[:80]!r}") from None
    if not isinstance(tag, int) or not isinstance(kind, int) or not isinstance(sha, str):
        raise ProtocolError(f"cannot parse a %CMNG list line: {line[:80]!r}")
    sha = sha.upper()
    return Credential(tag, kind, None if sha == protocol.ZERO_SHA else sha)


def list_credentials(soc: SoC, sec_tag: int | None = None, cred_type: int | None = None) -> list[Credential]:
    """Credentials stored, optionally filtered; a type filter without a tag is applied here (the modem needs a tag)."""
    if sec_tag is not None:
        credentials.check_sec_tag(sec_tag, writing=False)
    if cred_type is not None:
        credentials.check_cred_type(cred_type)
    if sec_tag is None:
        command = protocol.build("%CMNG", 1)
    else:
        command = protocol.build("%CMNG", 1, sec_tag, None if cred_type is None else int(cred_type))
    found = [parse_listed(line) for line in soc.command(command) if line.upper().startswith("%CMNG:")]
    if cred_type is not None:
        found = [cred for cred in found if cred.cred_type == int(cred_type)]
    return found


def read_credential(soc: SoC, sec_tag: int, cred_type: int) -> str:
    """The content exactly as stored (PEM newlines included). Types 0 and 4 only."""
    credentials.check_sec_tag(sec_tag, writing=False)
    kind = credentials.check_readable(cred_type)
    command = protocol.build("%CMNG", 2, sec_tag, int(kind))
    for line in soc.command(command):
        if not line.upper().startswith("%CMNG:"):
            continue
        try:
            params = protocol.info_params(line, "%CMNG")
        except ValueError:
            raise ProtocolError("the %CMNG read response is cut off or malformed") from None
        if len(params) < 4 or params[:2] != [sec_tag, int(kind)] or not isinstance(params[3], str):
            raise ProtocolError(f"unexpected %CMNG read response for sec_tag {sec_tag} type {int(kind)}")
        return params[3]
    raise ProtocolError(f"{command} answered OK without content")


def write_credential(soc: SoC, sec_tag: int, cred_type: int, content: str | bytes | credentials.Prepared,
                     passwd: str | None = None, verify: bool = True) -> Credential:
    """Validate, write, and (by default) verify by SHA-256 from the list output. See `SoC.write_credential`."""
    credentials.check_sec_tag(sec_tag, writing=True)
    text = credentials.prepared_text(cred_type, content, passwd)
    command = protocol.build("%CMNG", 0, sec_tag, int(cred_type), text, passwd)
    link = soc._link  # this module is SoC's own %CMNG half: the link's storing rules (AT shell: CRLF) apply
    stored.check_command(link, command)
    soc.command(command)
    expected = soc.stored_sha256(text)
    soc.stored_note = stored.stored_note(link, sec_tag, int(cred_type), text)
    if not verify:
        return Credential(sec_tag, int(cred_type), expected)
    listed = list_credentials(soc, sec_tag, cred_type)
    if not listed:
        raise VerificationError(f"the modem answered OK, but sec_tag {sec_tag} type {int(cred_type)} "
                                "is not listed afterwards")
    found = listed[0]
    if found.sha256 is not None and found.sha256 != expected:
        soc.stored_note = None
        raise VerificationError(stored.explain_mismatch(link, sec_tag, int(cred_type), text, found.sha256) or
                                f"sec_tag {sec_tag} type {int(cred_type)} was stored with SHA-256 {found.sha256}, "
                                f"but what was sent hashes to {expected}: the link or the firmware altered it; "
                                "write it again")
    return found


def delete_credential(soc: SoC, sec_tag: int, cred_type: int) -> None:
    credentials.check_sec_tag(sec_tag, writing=True)
    kind = credentials.check_cred_type(cred_type)
    soc.command(protocol.build("%CMNG", 3, sec_tag, int(kind)))
