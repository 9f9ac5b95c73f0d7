"""Fetching Nordic's at_client builds: a real HTTP server on loopback and real folders, a test manifest
naming small valid hex files, and the real manifest checked against the published facts."""
from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

from at import firmware
from at.errors import FirmwareError, ValidationError
from tests.hexserve import HexServer, Images, hex_file

# The published facts (NordicSemiconductor/at_host-hex, gh-pages at 256e8f7363ed7ec39b1ff7b24660783c5e240220).
# A typo here or in hex/manifest.json breaks every user's -x, so both are written out independently.
COMMIT = "256e8f7363ed7ec39b1ff7b24660783c5e240220"
PUBLISHED = [
    ("nrf9160dk", "at_host-nrf9160dk_nrf9160_ns.hex", 240552,
     "88fa726dcdbd94a8a45f42f08ebe8e9a73f58d0ddf076556ba6d7c9d356a6481"),
    ("nrf9161dk", "at_host-nrf9161dk_nrf9161_ns.hex", 240684,
     "e05c6bfd9676d30ca031e219ea0a100f33f938188aaa30b49af65a8d17e2f7ef"),
    ("thingy91", "at_host-thingy91_nrf9160_ns.hex", 456124,
     "f74a05d58fc57e5ba21ae994ec80b58b76823adbba1d85188992a5ce2845e5f7"),
    ("thingy91x", "at_host-thingy91x_nrf9151_ns.hex", 558240,
     "a5c20110c351be34c77489b67ae324816cdbefd9069cf54a9245fd6341d034aa"),
]


def test_real_manifest_is_the_published_table():
    manifest = firmware.load_manifest()
    got = [(i.board, i.file, i.size, i.sha256) for i in manifest.images]
    assert got == PUBLISHED
    for image in manifest.images:
        assert image.sources == (f"https://nordicsemiconductor.github.io/at_host-hex/{image.file}",
                                 f"https://raw.githubusercontent.com/NordicSemiconductor/at_host-hex/{COMMIT}/{image.file}")
        assert image.license == manifest.license_id == "LicenseRef-Nordic-5-Clause"
    assert manifest.license_url == "https://github.com/NordicSemiconductor/at_host-hex/blob/saga/LICENSE"
    assert "only with a Nordic Semiconductor integrated circuit" in manifest.license_note
    assert "reverse engineer" in manifest.license_note


def test_unpublished_and_unknown_boards_say_what_to_do():
    manifest = firmware.load_manifest()
    with pytest.raises(firmware.NoBuildError, match="no at_client build for the nRF9151 DK.*nrf9151dk/nrf9151/ns.*"
                                                    "CONFIG_AT_HOST_CMD_MAX_LEN=4096"):
        manifest.image("nrf9151dk")
    with pytest.raises(ValidationError, match="unknown board 'nrf9999'.*nrf9160dk, nrf9161dk, thingy91, thingy91x"):
        manifest.image("nrf9999")


def test_broken_or_missing_manifest_is_one_error(tmp_path):
    with pytest.raises(FirmwareError, match="cannot read the at_client manifest"):
        firmware.load_manifest(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text(json.dumps({"boards": [{"board": "x"}]}))
    with pytest.raises(FirmwareError, match="not a valid at_client manifest"):
        firmware.load_manifest(tmp_path / "bad.json")


def test_cache_folder_is_the_users_unless_set(monkeypatch, tmp_path):
    monkeypatch.delenv(firmware.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert firmware.cache_dir() == tmp_path / "xdg" / "nrf91-at" / "at_client"
    monkeypatch.setenv(firmware.CACHE_ENV, str(tmp_path / "mine"))
    assert firmware.cache_dir() == tmp_path / "mine"


# ------------------------------------------------------------------ fetching

@pytest.fixture
def server():
    srv = HexServer()
    yield srv
    srv.stop()


@pytest.fixture
def images(tmp_path, server):
    return Images(tmp_path, [server.base])


@pytest.fixture
def cache(offline_firmware):
    return offline_firmware


def image_of(images, board="nrf9160dk", manifest=None):
    return firmware.load_manifest(manifest or images.manifest).image(board)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_file_is_fetched_verified_and_cached(server, images, cache):
    server.serve(images)
    seen = []
    path = firmware.fetch(image_of(images), progress=lambda name, done, total: seen.append((name, done, total)))
    data = images.content["nrf9160dk"]
    assert path == cache / hex_file("nrf9160dk") and path.read_bytes() == data
    assert leftovers(cache) == [hex_file("nrf9160dk")]  # no partial file next to it
    assert len(seen) >= 2 and seen[-1] == (hex_file("nrf9160dk"), len(data), len(data))
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)
    assert firmware.cached(image_of(images)) == path
    assert firmware.ensure(image_of(images)) == path and server.requests == [f"/{hex_file('nrf9160dk')}"]


def test_a_changed_cached_file_is_not_trusted_and_is_fetched_again(server, images, cache):
    server.serve(images)
    path = firmware.fetch(image_of(images))
    path.write_bytes(path.read_bytes().replace(b"A", b"B", 1))
    assert firmware.cached(image_of(images)) is None
    assert firmware.ensure(image_of(images)).read_bytes() == images.content["nrf9160dk"]
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode,error,message", [
    ("tampered", firmware.ChecksumError, "has sha256 [0-9a-f]{64}, the published file has .*refused"),
    ("truncated", firmware.TruncatedError, r"broke off after \d+ of \d+ bytes|ended after"),
    ("short", firmware.TruncatedError, r"ended after \d+ of \d+ bytes"),
    ("declared_short", firmware.ChecksumError, "not the published file"),
    ("long", firmware.ChecksumError, "sent more than the published"),
    ("declared_long", firmware.ChecksumError, "not the published file"),
    ("missing", firmware.NotPublishedError, r"is not there \(HTTP 404\)"),
    ("error", firmware.ServerError, "HTTP 503"),
])
def test_bad_transfers_are_refused_and_nothing_is_cached(server, images, cache, mode, error, message):
    name = f"/{hex_file('nrf9160dk')}"
    data = images.content["nrf9160dk"]
    server.routes[name] = {
        "tampered": ("file", data.replace(b"0", b"1", 1)),
        "truncated": ("truncated", data),
        "short": ("nolength", data[:-100]),
        "long": ("nolength", data + b":00000001FF\n"),
        "declared_long": ("file", data + b"\n"),
        "declared_short": ("file", data[:-1]),
        "missing": ("status", 404),
        "error": ("status", 503),
    }[mode]
    with pytest.raises(error, match=message) as err:
        firmware.fetch(image_of(images))
    assert "\n" not in str(err.value)
    assert leftovers(cache) == []
    assert firmware.cached(image_of(images)) is None


def test_redirect_to_another_host_is_refused(server, images, cache):
    other = HexServer()
    try:
        other.serve(images)
        server.routes[f"/{hex_file('nrf9160dk')}"] = ("redirect", f"{other.base}/{hex_file('nrf9160dk')}")
        with pytest.raises(firmware.RedirectError, match=f"redirects to {other.base}.*refused"):
            firmware.fetch(image_of(images))
        assert other.requests == [] and leftovers(cache) == []
    finally:
        other.stop()


def test_redirect_on_the_same_host_is_followed(server, images, cache):
    server.serve(images, prefix="/moved")
    server.routes[f"/{hex_file('nrf9160dk')}"] = ("redirect", f"/moved/{hex_file('nrf9160dk')}")
    assert firmware.fetch(image_of(images)).read_bytes() == images.content["nrf9160dk"]


def test_sources_are_tried_in_order(server, images, cache):
    images.write_manifest([server.base + "/first", server.base + "/second"])
    server.serve(images, prefix="/second")
    assert firmware.fetch(image_of(images)).read_bytes() == images.content["nrf9160dk"]
    assert server.requests == [f"/first/{hex_file('nrf9160dk')}", f"/second/{hex_file('nrf9160dk')}"]
    server.routes.clear()
    (cache / hex_file("nrf9160dk")).unlink()
    with pytest.raises(firmware.NotPublishedError, match="first.*HTTP 404.*the other source failed too.*second"):
        firmware.fetch(image_of(images))


def test_no_network_is_one_error(images, cache):
    with tempfile.TemporaryDirectory():
        import socket
        with socket.socket() as sock:  # a loopback port nobody listens on: connection refused
            sock.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    images.write_manifest([dead])
    with pytest.raises(firmware.NoNetworkError, match=r"cannot reach 127.0.0.1:\d+: .*no network"):
        firmware.fetch(image_of(images))
    assert leftovers(cache) == []


def test_from_a_folder_replaces_the_published_sources(server, images, cache, tmp_path):
    folder = images.put(tmp_path / "copied")
    path = firmware.fetch(image_of(images, "nrf9161dk"), source=str(folder))
    assert path.read_bytes() == images.content["nrf9161dk"] and server.requests == []
    (folder / hex_file("thingy91")).write_bytes(b"tampered")
    with pytest.raises(firmware.ChecksumError, match="8 bytes.*not the published file"):
        firmware.fetch(image_of(images, "thingy91"), source=str(folder))
    (folder / hex_file("thingy91")).unlink()
    with pytest.raises(firmware.NotPublishedError, match="does not exist"):
        firmware.fetch(image_of(images, "thingy91"), source=str(folder))
    with pytest.raises(firmware.NotPublishedError, match="source folder .* does not exist"):
        firmware.fetch(image_of(images, "thingy91"), source=str(tmp_path / "nowhere"))
    assert leftovers(cache) == [hex_file("nrf9161dk")] and server.requests == []


def test_from_a_base_url_contacts_only_that_url(server, images, cache):
    mirror = HexServer()
    try:
        mirror.serve(images, prefix="/mirror")
        path = firmware.fetch(image_of(images), source=mirror.base + "/mirror/")
        assert path.read_bytes() == images.content["nrf9160dk"]
        assert mirror.requests == [f"/mirror/{hex_file('nrf9160dk')}"] and server.requests == []
    finally:
        mirror.stop()


def test_cache_that_is_a_file_is_refused_before_any_download(server, images, tmp_path):
    server.serve(images)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(firmware.CacheError, match="is not writable.*NRF91_AT_CACHE_DIR"):
        firmware.fetch(image_of(images), directory=blocker / "cache")
    assert server.requests == []


def fetch_in_child(image, source, cache, fsize_limit=0, uid=None):
    """fetch() in a forked process, optionally with a file size limit or as another user: real OS errors."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        code = 1
        try:
            os.close(read_end)
            if fsize_limit:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))
            if uid is not None:
                os.setegid(uid)
                os.seteuid(uid)
            try:
                firmware.fetch(image, source=str(source), directory=cache)
                result = ["ok", ""]
            except firmware.FirmwareError as exc:
                result = [type(exc).__name__, str(exc)]
            os.write(write_end, json.dumps(result).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and data, "the child failed"
    return json.loads(data)


@pytest.fixture
def shared_dir():
    """A folder another user can reach (pytest's tmp_path is private to this user)."""
    base = Path(tempfile.mkdtemp(prefix="nrf91-at-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX")
def test_full_disk_is_one_error_and_leaves_nothing(images, tmp_path):
    """A real write failure: the process may write only 64 kB (RLIMIT_FSIZE), like a full quota."""
    folder, cache = images.put(tmp_path / "src"), tmp_path / "cache"
    kind, message = fetch_in_child(image_of(images), folder, cache, fsize_limit=64 * 1024)
    assert kind == "DiskFullError" and "no space left" in message and str(cache) in message
    assert leftovers(cache) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX")
def test_unwritable_cache_is_one_error(images, shared_dir):
    """A cache folder without write permission (checked as an unprivileged user when tests run as root)."""
    source = images.put(shared_dir / "src")
    source.chmod(0o755)
    cache = shared_dir / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    kind, message = fetch_in_child(image_of(images), source, cache, uid=65534 if os.geteuid() == 0 else None)
    assert kind == "CacheError" and f"cache folder {cache} is not writable" in message
    assert "Permission denied" in message and leftovers(cache) == []


@pytest.mark.skipif(not os.environ.get("NRF91_AT_REAL_HEX_DIR"), reason="set NRF91_AT_REAL_HEX_DIR to a folder "
                    "holding Nordic's four published files to check them against the real manifest")
def test_real_published_files_served_locally(server, cache):
    folder = Path(os.environ["NRF91_AT_REAL_HEX_DIR"])
    for _, file, _, _ in PUBLISHED:
        server.routes[f"/at_host-hex/{file}"] = ("file", (folder / file).read_bytes())
    manifest = firmware.load_manifest()
    for image in manifest.images:
        path = firmware.fetch(image, source=server.base + "/at_host-hex")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == image.sha256
        assert firmware.cached(image) == path
