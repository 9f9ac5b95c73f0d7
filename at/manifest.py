"""Provisioning manifests: what a kit should hold, per sec_tag and type, in TOML.

    version = 1
    psk_file = "psk_file.txt"            # where generated PSKs are recorded
    [tag.1234.ca]
    path = "ca.pem"                      # relative to the manifest
    [tag.1234.identity]
    content = "device-1"
    [tag.1234.psk]
    generate = "psk"                     # a new random PSK, recorded in psk_file
    [tag.1234.client_key]
    sha256 = "9F86D08..."                # required, but not stored here (cannot be read back)
    [tag.42.ca]
    absent = true                        # must be deleted
    [tag.44.client_key]
    generate = "keygen"                  # a key made in the modem where none is; its CSR written beside
    ca_cert = "ca.pem"                   # optional, with ca_key: sign it, write CA (0) and cert (1) as onboard does
    ca_key = "ca.key"
    [kit.352656100000001.tag.1234.identity]
    content = "device-2"                 # this kit only (by IMEI)

Everything is checked when the manifest is loaded, before any kit is touched: an
error names the manifest line. Content goes through `at.credentials`, the same
checks a single write gets.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from .credentials import CredType
from .errors import ValidationError
from .files import PathLike, atomic_write
from .protocol import sha256_hex

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

VERSION = 1
TYPE_KEYS = {"ca": CredType.ROOT_CA, "client_cert": CredType.CLIENT_CERT, "client_key": CredType.CLIENT_PRIVATE_KEY,
             "psk": CredType.PSK, "identity": CredType.PSK_IDENTITY}
KEY_OF_TYPE = {kind: key for key, kind in TYPE_KEYS.items()}
KINDS = ("content", "path", "template", "sha256", "absent", "generate")
GENERATORS = ("psk", "keygen")
TOP_FIELDS = ("version", "psk_file", "source", "tag", "kit")
SOURCE_FIELDS = ("imei", "model", "firmware", "port", "taken")
DEFAULT_PSK_BYTES = 16
KEYGEN_FIELDS = ("csr", "ca_cert", "ca_key", "days", "cn")  # only with generate = "keygen"
DEFAULT_CSR = "{imei}.{sec_tag}.csr.pem"  # beside the manifest
SAMPLE_IMEI = "352656100000002"  # what a template is checked with before any kit is known
Slot = tuple  # (sec_tag, CredType)


def fill_template(template: str, imei: str) -> str:
    return template.replace("{imei}", imei)


class ManifestError(ValidationError):
    """A manifest refused before any kit was touched; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True)
class KeygenSpec:
    """How a `generate = "keygen"` slot is filled: the CSR's file (`{imei}`, `{sec_tag}` filled in), an optional CA."""

    csr: str = DEFAULT_CSR  # a path template, taken from the manifest's folder when it loads
    ca_cert: Path | None = None
    ca_key: Path | None = None
    days: int | None = None  # certificate validity (None: at.ca's default)
    cn: str = "uuid"
    ca: Any = field(default=None, repr=False, compare=False)  # the loaded at.ca.CA, checked when the manifest loads

    def csr_path(self, imei: str, sec_tag: int) -> Path:
        return Path(self.csr.replace("{imei}", imei).replace("{sec_tag}", str(sec_tag)))


@dataclass(frozen=True)
class Entry:
    """What one slot should hold. `kind` is content, template, sha256, absent or generate (a path loads as content).

    A template (`nrf-{imei}`, identities only) becomes content once the kit is known: see `Manifest.for_imei`.
    """

    sec_tag: int
    cred_type: CredType
    kind: str
    content: str | None = field(default=None, repr=False)  # exactly what will be stored
    sha256: str | None = None  # of `content`, or the one required
    path: Path | None = None  # the file the content came from
    passwd: str | None = field(default=None, repr=False)
    generator: str | None = None
    psk_bytes: int = DEFAULT_PSK_BYTES
    line: int | None = None
    keygen: KeygenSpec | None = None  # generate = "keygen": where the CSR goes, and the CA that signs it

    @property
    def slot(self) -> Slot:
        return (self.sec_tag, self.cred_type)

    @property
    def name(self) -> str:
        return f"sec_tag {self.sec_tag} {KEY_OF_TYPE[self.cred_type]}"


@dataclass
class Manifest:
    """A validated manifest. `entries` apply to every kit; `overrides[imei]` replace or add slots for one kit."""

    entries: dict[Slot, Entry] = field(default_factory=dict)
    overrides: dict[str, dict[Slot, Entry]] = field(default_factory=dict)
    psk_file: Path | None = None
    source: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def for_imei(self, imei: str | None) -> dict[Slot, Entry]:
        """The slots one kit should hold, its overrides applied and templates filled in, in (sec_tag, type) order."""
        merged = dict(self.entries)
        merged.update(self.overrides.get(imei or "", {}))
        if imei:
            for slot, entry in merged.items():
                if entry.kind == "template" and entry.content is not None:
                    text = fill_template(entry.content, imei)
                    merged[slot] = replace(entry, kind="content", content=text, sha256=sha256_hex(text))
        return dict(sorted(merged.items()))


def loads(text: str, base_dir: PathLike = ".", name: str = "manifest") -> Manifest:
    """Parse and validate a manifest text; relative paths are taken from `base_dir`.

    Raises `ManifestError` (a `ValidationError`) listing every problem, one line each.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ManifestError([f"{name}:{found.group(1) if found else '?'}: not valid TOML: {message}"]) from None
    from .manifest_check import check  # validation lives beside the model it fills

    return check(data, text, Path(base_dir), name)


def load(path: PathLike) -> Manifest:
    """Read and validate the manifest at `path` (relative paths inside it are relative to its folder)."""
    file = Path(path)
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read the manifest {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"the manifest {file} is not UTF-8 text") from None
    manifest = loads(text, file.parent, str(file))
    manifest.path = file
    return manifest


def _spec(entry: Entry, base: Path) -> dict[str, Any]:
    if entry.kind == "content" and entry.path is not None:
        try:
            spec: dict[str, Any] = {"path": entry.path.relative_to(base).as_posix()}
        except ValueError:
            spec = {"path": str(entry.path)}
    elif entry.kind in ("content", "template"):
        spec = {entry.kind: entry.content}
    elif entry.kind == "sha256":
        spec = {"sha256": entry.sha256}
    elif entry.kind == "absent":
        spec = {"absent": True}
    else:
        spec = {"generate": entry.generator}
        if entry.psk_bytes != DEFAULT_PSK_BYTES:
            spec["bytes"] = entry.psk_bytes
        if entry.keygen is not None:
            spec.update(_keygen_spec(entry.keygen, base))
    if entry.passwd is not None:
        spec["passwd"] = entry.passwd
    return spec


def _keygen_spec(keygen: KeygenSpec, base: Path) -> dict[str, Any]:
    def relative(path: Path) -> str:
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            return str(path)

    csr = relative(Path(keygen.csr))
    spec: dict[str, Any] = {} if csr == DEFAULT_CSR else {"csr": csr}
    if keygen.ca_cert is not None and keygen.ca_key is not None:
        spec.update({"ca_cert": relative(keygen.ca_cert), "ca_key": relative(keygen.ca_key)})
        if keygen.days is not None:
            spec["days"] = keygen.days
        if keygen.cn != "uuid":
            spec["cn"] = keygen.cn
    return spec


def _tags(entries: dict[Slot, Entry], base: Path) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    for (tag, kind), entry in sorted(entries.items()):
        tags.setdefault(str(tag), {})[KEY_OF_TYPE[kind]] = _spec(entry, base)
    return tags


def dumps(manifest: Manifest, base_dir: PathLike = ".") -> str:
    """The manifest as TOML; content files are named relative to `base_dir`."""
    import tomli_w

    base = Path(base_dir)
    doc: dict[str, Any] = {"version": VERSION}
    if manifest.psk_file is not None:
        try:
            doc["psk_file"] = manifest.psk_file.relative_to(base).as_posix()
        except ValueError:
            doc["psk_file"] = str(manifest.psk_file)
    if manifest.source:
        doc["source"] = dict(manifest.source)
    doc["tag"] = _tags(manifest.entries, base)
    if manifest.overrides:
        doc["kit"] = {imei: {"tag": _tags(entries, base)} for imei, entries in sorted(manifest.overrides.items())}
    return tomli_w.dumps(doc, multiline_strings=True)


def save(manifest: Manifest, path: PathLike, mode: int = 0o600) -> None:
    """Write the manifest atomically (0600 by default: it may hold inline content or a key's password)."""
    file = Path(path)
    atomic_write(file, dumps(manifest, file.parent).encode("utf-8"), mode)
    manifest.path = file
