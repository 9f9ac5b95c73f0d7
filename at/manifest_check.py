"""Validation of a parsed manifest: every field checked, every problem one line naming where it is.

Content is put through `at.credentials` (the checks a single write gets), files are
read, sec_tags and IMEIs checked, duplicates found; nothing here touches a kit.
"""
from __future__ import annotations

import re
from pathlib import Path

from . import credentials, protocol
from .credentials import CredType
from .errors import ValidationError
from .manifest import (
    DEFAULT_PSK_BYTES,
    GENERATORS,
    KEY_OF_TYPE,
    KEYGEN_FIELDS,
    KINDS,
    SAMPLE_IMEI,
    SOURCE_FIELDS,
    TOP_FIELDS,
    TYPE_KEYS,
    VERSION,
    Entry,
    KeygenSpec,
    Manifest,
    ManifestError,
    Slot,
    fill_template,
)
from .tomlpos import Positions

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from typing import Any


class _Loader:
    def __init__(self, text: str, base: Path, name: str) -> None:
        self.base, self.name, self.errors = base, name, []
        self.positions = Positions(text)

    def error(self, path: tuple, message: str) -> None:
        line = self.positions.line(path)
        self.errors.append(f"{self.name}:{line}: {message}" if line else f"{self.name}: {message}")

    def unknown(self, path: tuple, table: dict, allowed: tuple, what: str) -> None:
        for key in table:
            if key not in allowed:
                self.error(path + (key,), f"unknown field {key!r} in {what}: use {', '.join(allowed)}")

    def tags(self, path: tuple, tags: Any) -> dict[Slot, Entry]:
        entries: dict[Slot, Entry] = {}
        seen: dict[Slot, tuple] = {}
        if not isinstance(tags, dict):
            self.error(path, "'tag' must be a table of sec_tags, e.g. [tag.1234.ca]")
            return entries
        for tag_key, types in tags.items():
            tag = self.sec_tag(path + (tag_key,), tag_key)
            if tag is None:
                continue
            if not isinstance(types, dict):
                self.error(path + (tag_key,), f"sec_tag {tag_key} must be a table of types ({', '.join(TYPE_KEYS)})")
                continue
            for type_key, spec in types.items():
                where = path + (tag_key, type_key)
                kind = self.cred_type(where, type_key)
                if kind is None:
                    continue
                if (tag, kind) in seen:
                    first = self.positions.line(seen[(tag, kind)])
                    self.error(where, f"a second entry for sec_tag {tag} {KEY_OF_TYPE[kind]} (the first is on line {first}): "
                                      "keep one")
                    continue
                seen[(tag, kind)] = where
                entry = self.entry(where, tag, kind, spec)
                if entry is not None:
                    entries[(tag, kind)] = entry
        return entries

    def sec_tag(self, where: tuple, key: str) -> int | None:
        if not re.fullmatch(r"[0-9]+", key):
            self.error(where, f"sec_tag {key!r} is not a number: use 0..{credentials.USER_SEC_TAG_MAX}")
            return None
        try:
            return credentials.check_sec_tag(int(key), writing=True)
        except ValidationError as exc:
            self.error(where, str(exc))
            return None

    def cred_type(self, where: tuple, key: str) -> CredType | None:
        if key in TYPE_KEYS:
            return TYPE_KEYS[key]
        if re.fullmatch(r"[0-4]", key):
            return CredType(int(key))
        self.error(where, f"unknown type {key!r}: use {', '.join(TYPE_KEYS)} (or 0-4)")
        return None

    def entry(self, where: tuple, tag: int, kind: CredType, spec: Any) -> Entry | None:
        label = f"sec_tag {tag} {KEY_OF_TYPE[kind]}"
        if not isinstance(spec, dict):
            self.error(where, f"{label} must be a table with one of {', '.join(KINDS)}")
            return None
        before = len(self.errors)
        self.unknown(where, spec, KINDS + ("passwd", "bytes") + KEYGEN_FIELDS, label)
        given = [k for k in KINDS if k in spec]
        if len(self.errors) > before:  # an unknown field is most likely a misspelt kind: say that only
            return None
        if len(given) != 1:
            also = f", not {' and '.join(given)}" if given else ""
            self.error(where, f"{label} needs exactly one of {', '.join(KINDS)}{also}")
            return None
        how = given[0]
        if "passwd" in spec and (kind != CredType.CLIENT_PRIVATE_KEY or how not in ("content", "path")):
            self.error(where + ("passwd",), f"passwd belongs only to a client_key given by content or path, not {label}")
        if "bytes" in spec and spec.get("generate") != "psk":
            self.error(where + ("bytes",), f"bytes belongs only to generate = \"psk\", not {label}")
        for key in KEYGEN_FIELDS:
            if key in spec and spec.get("generate") != "keygen":
                self.error(where + (key,), f"{key} belongs only to generate = \"keygen\", not {label}")
        if len(self.errors) > before:
            return None
        value = spec[how]
        at = where + (how,)
        try:
            if how in ("content", "path"):
                return self.content(at, tag, kind, how, value, spec.get("passwd"))
            if how == "sha256":
                if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Fa-f]{64}", value):
                    raise ValidationError("sha256 must be 64 hex digits (as 'cmng list' shows)")
                return Entry(tag, kind, "sha256", sha256=value.upper(), line=self.positions.line(at))
            if how == "template":
                return self.template(at, tag, kind, value)
            if how == "absent":
                if value is not True:
                    raise ValidationError("absent must be true (to keep a slot, leave it out of the manifest)")
                return Entry(tag, kind, "absent", line=self.positions.line(at))
            if value == "keygen":
                return self.keygen(where, tag, kind, spec)
            return self.generator(where, tag, kind, value, spec.get("bytes", DEFAULT_PSK_BYTES))
        except ValidationError as exc:
            self.error(at, f"{label}: {exc}")
            return None

    def content(self, at: tuple, tag: int, kind: CredType, how: str, value: Any, passwd: Any) -> Entry:
        if not isinstance(value, str) or not value:
            raise ValidationError(f"{how} must be a non-empty string")
        if passwd is not None and not isinstance(passwd, str):
            raise ValidationError("passwd must be a string")
        file = None
        if how == "path":
            file = (self.base / value) if not Path(value).is_absolute() else Path(value)
            try:
                raw = file.read_bytes()
            except OSError as exc:
                raise ValidationError(f"cannot read {file}: {exc.strerror or exc}") from None
        else:
            raw = value.encode("utf-8")
        text = credentials.prepare_content(kind, raw, passwd)
        return Entry(tag, kind, "content", content=text, sha256=protocol.sha256_hex(text), path=file,
                     passwd=passwd, line=self.positions.line(at))

    def template(self, at: tuple, tag: int, kind: CredType, value: Any) -> Entry:
        if kind != CredType.PSK_IDENTITY:
            raise ValidationError("template makes a PSK identity from the IMEI: put it under identity")
        if not isinstance(value, str) or value.count("{imei}") != 1 or "{" in value.replace("{imei}", ""):
            raise ValidationError("template must hold {imei} once and no other braces, e.g. \"nrf-{imei}\"")
        credentials.prepare_content(kind, fill_template(value, SAMPLE_IMEI))  # the kit's IMEI only adds digits
        return Entry(tag, kind, "template", content=value, line=self.positions.line(at))

    def generator(self, where: tuple, tag: int, kind: CredType, value: Any, size: Any) -> Entry:
        if value not in GENERATORS:
            raise ValidationError(f"generate must be one of {', '.join(GENERATORS)}, not {value!r}")
        if kind != CredType.PSK:
            raise ValidationError("generate = \"psk\" makes a PSK: put it under psk")
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 64:
            raise ValidationError(f"bytes = {size!r} is not possible: use 1 to 64 (16 is usual)")
        return Entry(tag, kind, "generate", generator="psk", psk_bytes=size, line=self.positions.line(where + ("generate",)))

    def keygen(self, where: tuple, tag: int, kind: CredType, spec: dict) -> Entry:
        """generate = "keygen": the modem makes the key (type 2); optional csr file name, and a CA that signs it."""
        if kind != CredType.CLIENT_PRIVATE_KEY:
            raise ValidationError("generate = \"keygen\" makes the key in the modem: put it under client_key")
        csr = spec.get("csr", KeygenSpec.csr)
        if not isinstance(csr, str) or not csr or "{" in csr.replace("{imei}", "").replace("{sec_tag}", ""):
            raise ValidationError("csr must be a file name; {imei} and {sec_tag} are filled in, no other braces")
        if ("ca_cert" in spec) != ("ca_key" in spec):
            raise ValidationError("ca_cert and ca_key go together: the CA's certificate and its private key")
        if "ca_cert" not in spec:
            for key in ("days", "cn"):
                if key in spec:
                    raise ValidationError(f"{key} is for the certificate the CA signs: give ca_cert and ca_key too")
        csr = str(self.base / csr)
        if "ca_cert" not in spec:
            return Entry(tag, kind, "generate", generator="keygen", keygen=KeygenSpec(csr=csr),
                         line=self.positions.line(where + ("generate",)))
        from . import ca as ca_module
        from .onboard import check_cn

        paths = []
        for key in ("ca_cert", "ca_key"):
            if not isinstance(spec[key], str) or not spec[key]:
                raise ValidationError(f"{key} must be a file name")
            paths.append(self.base / spec[key])
        days = spec.get("days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
            raise ValidationError(f"days = {days!r}: give the certificate's validity in days, at least 1")
        cn = check_cn(spec.get("cn", "uuid"))
        loaded = ca_module.load(paths[0], paths[1])
        return Entry(tag, kind, "generate", generator="keygen",
                     keygen=KeygenSpec(csr, paths[0], paths[1], days, cn, loaded),
                     line=self.positions.line(where + ("generate",)))

    def check_generators(self, entries: dict[Slot, Entry], base: dict[Slot, Entry], has_file: bool) -> None:
        for entry in entries.values():
            if entry.generator == "keygen" and entry.keygen is not None and entry.keygen.ca is not None:
                for kind in (CredType.ROOT_CA, CredType.CLIENT_CERT):
                    if (entry.sec_tag, kind) in entries or (entry.sec_tag, kind) in base:
                        self.errors.append(f"{self.name}:{entry.line}: {entry.name}: with ca_cert the keygen writes "
                                           f"sec_tag {entry.sec_tag} {KEY_OF_TYPE[kind]} itself: remove that entry")
            if entry.generator != "psk":
                continue
            identity = entries.get((entry.sec_tag, CredType.PSK_IDENTITY)) or base.get((entry.sec_tag, CredType.PSK_IDENTITY))
            if identity is None or identity.kind not in ("content", "template"):
                self.errors.append(f"{self.name}:{entry.line}: {entry.name}: generate = \"psk\" needs the identity of "
                                   f"sec_tag {entry.sec_tag} given by content, path or template (it names the PSK "
                                   "in psk_file)")
            elif ":" in identity.content or " " in identity.content:
                self.errors.append(f"{self.name}:{identity.line}: sec_tag {entry.sec_tag} identity: a generated PSK is "
                                   "recorded under its identity in psk_file, which cannot hold ':' or spaces")
            if not has_file:
                self.errors.append(f"{self.name}:{entry.line}: {entry.name}: generate = \"psk\" needs psk_file = "
                                   "\"...\" at the top of the manifest (where the new PSK is recorded)")


def check(data: dict, text: str, base_dir: Path, name: str) -> Manifest:
    """Turn parsed TOML into a `Manifest`, or raise `ManifestError` with every problem, each naming its line."""
    loader = _Loader(text, base_dir, name)
    manifest = Manifest()
    loader.unknown((), data, TOP_FIELDS, "the manifest")
    if type(data.get("version")) is not int or data["version"] != VERSION:
        loader.error(("version",), f"version = {VERSION} is required (found {data.get('version')!r})")
    if "psk_file" in data:
        if isinstance(data["psk_file"], str) and data["psk_file"]:
            manifest.psk_file = base_dir / data["psk_file"]
        else:
            loader.error(("psk_file",), "psk_file must be a file name")
    source = data.get("source", {})
    if isinstance(source, dict):
        loader.unknown(("source",), source, SOURCE_FIELDS, "[source]")
        manifest.source = {k: str(v) for k, v in source.items() if k in SOURCE_FIELDS}
    else:
        loader.error(("source",), "source must be a table")
    manifest.entries = loader.tags(("tag",), data.get("tag", {}))
    loader.check_generators(manifest.entries, manifest.entries, manifest.psk_file is not None)
    kits = data.get("kit", {})
    if not isinstance(kits, dict):
        kits = {}
        loader.error(("kit",), "kit must be a table of IMEIs, e.g. [kit.352656100000001.tag.1234.identity]")
    for imei, spec in kits.items():
        if not protocol.is_valid_imei(imei):
            loader.error(("kit", imei), f"{imei!r} is not an IMEI (15 digits with a valid check digit; see 'cmng imei')")
            continue
        if not isinstance(spec, dict):
            loader.error(("kit", imei), f"kit {imei} must be a table with a 'tag' table")
            continue
        loader.unknown(("kit", imei), spec, ("tag",), f"kit {imei}")
        manifest.overrides[imei] = loader.tags(("kit", imei, "tag"), spec.get("tag", {}))
        loader.check_generators(manifest.overrides[imei], manifest.entries, manifest.psk_file is not None)
    if loader.errors:
        raise ManifestError(loader.errors)
    return manifest
