"""`cmng hex list` and `cmng hex fetch` end to end: the real cmng process, a loopback HTTP server or a folder
(NRF91_AT_HEX_MANIFEST names a test manifest of small hex files), and the real manifest for `list`."""
from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess

import pytest

from tests.conftest import one_error, run_cmng, script
from tests.hexserve import HexServer, Images, hex_file
from tests.test_firmware import PUBLISHED


@pytest.fixture
def published(tmp_path, monkeypatch):
    server = HexServer()
    images = Images(tmp_path, [server.base])
    monkeypatch.setenv("NRF91_AT_HEX_MANIFEST", str(images.manifest))
    yield server, images
    server.stop()


def cache_files(cache):
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_list_json_is_the_documented_shape_for_the_real_manifest(offline_firmware):
    proc = run_cmng("hex", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc) == ["boards"]
    assert [(b["board"], b["file"], b["size"], b["sha256"]) for b in doc["boards"]] == PUBLISHED
    for entry in doc["boards"]:
        assert list(entry) == ["board", "file", "size", "sha256", "cached", "path"]
        assert entry["cached"] is False and entry["path"] is None
    text = run_cmng("hex", "list").stdout.decode()
    assert "nrf9161dk" in text and PUBLISHED[1][3] in text and "not cached" in text


def test_fetch_downloads_verifies_caches_and_shows_the_license_once(published, offline_firmware):
    server, images = published
    server.serve(images)
    proc = run_cmng("hex", "fetch")
    stderr = proc.stderr.decode()
    assert proc.returncode == 0, stderr
    paths = proc.stdout.decode().split()
    assert paths == [str(offline_firmware / hex_file(board)) for board in images.content]
    assert all((offline_firmware / hex_file(b)).read_bytes() == data for b, data in images.content.items())
    assert stderr.count("TEST LICENSE NOTE") == 1
    listed = json.loads(run_cmng("hex", "list", "--json").stdout)["boards"]
    assert [(b["cached"], b["path"]) for b in listed] == [(True, p) for p in paths]
    again = run_cmng("hex", "fetch", "nrf9160dk")
    assert again.returncode == 0 and "already cached" in again.stderr.decode()
    assert len(server.requests) == len(images.content)  # nothing downloaded twice


@pytest.mark.parametrize("mode,message", [
    ("tampered", "has sha256 .* refused"), ("truncated", "broke off after|ended after"),
    ("missing", r"is not there \(HTTP 404\)"), ("redirect", "redirects to .* refused"),
])
def test_a_failed_fetch_is_one_error_line_exit_11_and_nothing_cached(published, offline_firmware, mode, message):
    server, images = published
    data = images.content["nrf9161dk"]
    server.routes[f"/{hex_file('nrf9161dk')}"] = {
        "tampered": ("file", data.replace(b"A", b"C", 1)), "truncated": ("truncated", data),
        "missing": ("status", 404), "redirect": ("redirect", "http://127.0.0.2:1/elsewhere.hex")}[mode]
    proc = run_cmng("hex", "fetch", "nrf9161dk")
    line = one_error(proc)
    assert proc.returncode == 11 and line.startswith("cmng: error:")
    assert re.search(message, line), line
    assert "TEST LICENSE NOTE" not in proc.stderr.decode() and cache_files(offline_firmware) == []
    doc = json.loads(run_cmng("hex", "fetch", "nrf9161dk", "--json").stdout)
    assert doc["exit_code"] == 11 and doc["error"]["type"].endswith("Error")


def test_from_a_folder_contacts_nothing_else(published, offline_firmware, tmp_path):
    server, images = published
    folder = images.put(tmp_path / "usb-stick")
    proc = run_cmng("hex", "fetch", "thingy91", "--from", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == str(offline_firmware / hex_file("thingy91")) and server.requests == []


def test_from_a_base_url(published, offline_firmware):
    server, images = published
    server.serve(images, prefix="/mirror")
    proc = run_cmng("hex", "fetch", "nrf9160dk", "--from", server.base + "/mirror")
    assert proc.returncode == 0, proc.stderr
    assert server.requests == [f"/mirror/{hex_file('nrf9160dk')}"]


def test_unknown_and_unpublished_boards(published):
    unknown = run_cmng("hex", "fetch", "nrf9999dk")
    assert unknown.returncode == 3 and "unknown board 'nrf9999dk'" in one_error(unknown)
    nine151 = run_cmng("hex", "fetch", "nrf9151dk")
    assert nine151.returncode == 11 and "nrf9151dk/nrf9151/ns" in one_error(nine151)
    missing = run_cmng("hex")
    assert missing.returncode == 2 and "ACTION" in one_error(missing)


def test_cache_that_cannot_be_written_is_one_line(published, tmp_path):
    server, images = published
    server.serve(images)
    (tmp_path / "file").write_text("x")
    env = dict(os.environ, NRF91_AT_CACHE_DIR=str(tmp_path / "file" / "cache"))
    proc = run_cmng("hex", "fetch", "nrf9160dk", env=env)
    assert proc.returncode == 11 and "is not writable" in one_error(proc) and server.requests == []


def test_full_disk_is_one_line_and_leaves_nothing(published, offline_firmware):
    server, images = published
    server.serve(images)

    def small_files():  # the real cmng process may write 64 kB per file: a full quota
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    proc = subprocess.run([script("cmng"), "hex", "fetch", "nrf9160dk"], capture_output=True, timeout=60,
                          preexec_fn=small_files)
    assert proc.returncode == 11 and "no space left" in one_error(proc)
    assert cache_files(offline_firmware) == []
