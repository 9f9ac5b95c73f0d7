"""Nordic's published at_client builds: the manifest, the user cache, fetching with verification.

The hex files are Nordic's, not ours: the package carries only a manifest (hex/manifest.json,
installed as `at.hex`) naming each file, its size, its sha256 and where it is published. A file
enters the cache only after its size and sha256 match: it is written to a temporary file beside
its cache entry and renamed into place, so a partial or wrong file is never where `-x` looks.
Every failure is one `FirmwareError` subclass whose message says what happened and what to do.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import FirmwareError, UnknownBoardError  # noqa: F401  (re-exported here with the causes below)
from .fetch_errors import (  # noqa: F401  (the failures of fetching, re-exported here)
    CacheError,
    ChecksumError,
    DiskFullError,
    NoBuildError,
    NoNetworkError,
    NotPublishedError,
    RedirectError,
    ServerError,
    TruncatedError,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from typing import BinaryIO

MANIFEST_ENV = "NRF91_AT_HEX_MANIFEST"  # a manifest of one's own (in-house builds, tests)
CACHE_ENV = "NRF91_AT_CACHE_DIR"  # where verified files are kept (default: the user cache folder)
CHUNK = 64 * 1024
TIMEOUT = 30.0
# What a self-built at_client needs (the sample's defaults; hex/overlay-at_client.conf pins the length).
SELF_BUILD_KCONFIG = "CONFIG_AT_HOST_LIBRARY=y, CONFIG_AT_HOST_CMD_MAX_LEN=4096 (hex/overlay-at_client.conf)"
UNPUBLISHED = {"nrf9151dk": ("nRF9151 DK", "nrf9151dk/nrf9151/ns")}  # boards Nordic publishes no build for

# progress(file name, bytes so far, bytes expected)
FetchProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Image:
    """One published at_client build."""

    board: str  # the name `fetch` takes, e.g. nrf9160dk
    kit: str  # for people, e.g. "nRF9160 DK"
    file: str
    size: int
    sha256: str
    sources: tuple  # full URLs, tried in order
    license: str


@dataclass(frozen=True)
class Manifest:
    images: tuple
    license_id: str
    license_url: str
    license_note: str

    def boards(self) -> list[str]:
        return [image.board for image in self.images]

    def image(self, board: str) -> Image:
        """The image for `board`; an unpublished or unknown board raises an error that says what to do."""
        for image in self.images:
            if image.board == board:
                return image
        if board in UNPUBLISHED:
            kit, target = UNPUBLISHED[board]
            raise NoBuildError(f"Nordic publishes no at_client build for the {kit}: build "
                               f"nrf/samples/cellular/at_client for {target} with {SELF_BUILD_KCONFIG} "
                               "as hex/README.md explains, and give its merged.hex")
        raise UnknownBoardError(f"unknown board {board!r}: one of {', '.join(self.boards())}")


def _packaged_manifest() -> str:
    """hex/manifest.json: installed as the package `at.hex`, or beside `at/` in a source checkout.

    A checkout on sys.path (e.g. `python -m pytest` from its root) shadows the installed `at`, and
    there `at.hex` does not exist: the mapping of hex/ to at.hex is made only when installing.
    """
    try:
        return resources.files("at.hex").joinpath("manifest.json").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parent.parent / "hex" / "manifest.json").read_text(encoding="utf-8")


def load_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """The manifest at `path`, else $NRF91_AT_HEX_MANIFEST, else the one installed with the package."""
    path = path or os.environ.get(MANIFEST_ENV) or None
    try:
        if path is not None:
            text, origin = Path(path).read_text(encoding="utf-8"), str(path)
        else:
            text, origin = _packaged_manifest(), "the installed manifest"
    except (OSError, ModuleNotFoundError) as exc:
        raise FirmwareError(f"cannot read the at_client manifest {path or 'at.hex/manifest.json'}: "
                            f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        doc = json.loads(text)
        images = tuple(Image(board=b["board"], kit=b.get("kit", b["board"]), file=b["file"], size=int(b["size"]),
                             sha256=b["sha256"].lower(), sources=tuple(b["sources"]), license=b["license"])
                       for b in doc["boards"])
        lic = doc["license"]
        return Manifest(images, lic["id"], lic["url"], lic["note"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FirmwareError(f"{origin} is not a valid at_client manifest ({type(exc).__name__}: {exc})") from None


def cache_dir() -> Path:
    """$NRF91_AT_CACHE_DIR, else the user cache folder (platformdirs) / at_client."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    import platformdirs  # only fetching and -x pay for it

    return platformdirs.user_cache_path("nrf91-at", appauthor=False) / "at_client"


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached(image: Image, directory: Path | None = None) -> Path | None:
    """The cached file if it is there and still has the published size and sha256 (checked every time)."""
    path = (directory or cache_dir()) / image.file
    try:
        if path.stat().st_size == image.size and sha256_of(path) == image.sha256:
            return path
    except OSError:
        pass
    return None


def source_urls(image: Image, source: str | None) -> list[str]:
    """Where to get `image`: the manifest's sources, or only `source` (a folder or a base URL)."""
    if source is None:
        return list(image.sources)
    if source.startswith(("http://", "https://")):
        return [source.rstrip("/") + "/" + image.file]
    folder = Path(source[len("file://"):] if source.startswith("file://") else source)
    if not folder.is_dir():
        raise NotPublishedError(f"source folder {folder} does not exist (give a folder holding {image.file}, "
                                "or a base URL)")
    return [os.fspath(folder / image.file)]


def _write_error(folder: Path, exc: OSError) -> FirmwareError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return DiskFullError(f"no space left for the at_client file in {folder} ({exc.strerror}): free some space "
                             f"or set {CACHE_ENV} to another folder")
    return CacheError(f"the cache folder {folder} is not writable ({exc.strerror or exc}): fix its permissions "
                      f"or set {CACHE_ENV} to a writable folder")


def _receive(stream: BinaryIO, declared: int | None, image: Image, location: str, out: BinaryIO,
             folder: Path, progress: FetchProgress | None, read_errors: tuple) -> None:
    """Copy `stream` to `out`, refusing anything that is not exactly the published bytes."""
    if declared is not None and declared != image.size:
        raise ChecksumError(f"{location} is {declared} bytes, the published {image.file} is {image.size} bytes: "
                            "not the published file")
    digest, received = hashlib.sha256(), 0
    while True:
        try:
            chunk = stream.read(CHUNK)
        except read_errors as exc:
            raise TruncatedError(f"the transfer of {image.file} from {location} broke off after {received} of "
                                 f"{image.size} bytes ({type(exc).__name__}): try again") from None
        if not chunk:
            break
        received += len(chunk)
        if received > image.size:
            raise ChecksumError(f"{location} sent more than the published {image.size} bytes of {image.file}: "
                                "not the published file")
        digest.update(chunk)
        try:
            out.write(chunk)
        except OSError as exc:
            raise _write_error(folder, exc) from None
        if progress:
            progress(image.file, received, image.size)
    if received < image.size:
        raise TruncatedError(f"the transfer of {image.file} from {location} ended after {received} of "
                             f"{image.size} bytes: try again")
    if digest.hexdigest() != image.sha256:
        raise ChecksumError(f"{image.file} from {location} has sha256 {digest.hexdigest()}, the published file "
                            f"has {image.sha256}: refused (a tampered or wrong file)")


def _fetch_one(image: Image, location: str, folder: Path, timeout: float,
               progress: FetchProgress | None) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        out = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{image.file}.", suffix=".part", delete=False)
    except OSError as exc:  # before any network traffic: an unwritable cache is known at once
        raise _write_error(folder, exc) from None
    partial = Path(out.name)
    try:
        with out:
            from . import download  # the HTTP stack is loaded only when something is fetched

            stream, declared = download.open_location(location, timeout)
            with stream:
                _receive(stream, declared, image, location, out, folder, progress, download.READ_ERRORS)
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise _write_error(folder, exc) from None
        final = folder / image.file
        try:
            os.chmod(partial, 0o644)
            os.replace(partial, final)
        except OSError as exc:
            raise _write_error(folder, exc) from None
        return final
    finally:
        with contextlib.suppress(OSError):  # gone already when renamed into place; never mask the real error
            partial.unlink()


def fetch(image: Image, *, source: str | None = None, directory: Path | None = None,
          progress: FetchProgress | None = None, timeout: float = TIMEOUT) -> Path:
    """Download (or copy from a folder) `image` into the cache, verified; the manifest's sources in order,
    or only `source`. A file is kept only when its size and sha256 match."""
    folder = directory or cache_dir()
    failures: list[FirmwareError] = []
    for location in source_urls(image, source):
        try:
            return _fetch_one(image, location, folder, timeout, progress)
        except (DiskFullError, CacheError):
            raise  # another source cannot help
        except FirmwareError as exc:
            failures.append(exc)
    first, others = failures[0], failures[1:]
    if not others:
        raise first
    also = f"the other {len(others)} source(s) failed too" if len(others) > 1 else f"the other source failed too: {others[0]}"
    raise type(first)(f"{first}; {also}")


def ensure(image: Image, *, directory: Path | None = None, progress: FetchProgress | None = None,
           timeout: float = TIMEOUT) -> Path:
    """The verified cached file of `image`, fetched from its published sources when missing or changed."""
    return cached(image, directory) or fetch(image, directory=directory, progress=progress, timeout=timeout)
