"""Test helpers for at_client fetching: small valid Intel HEX images, a test manifest, and a real HTTP
server on a free loopback port whose answers each test chooses (file, tampered, truncated, 404, redirect)."""
from __future__ import annotations

import hashlib
import http.server
import json
import random
import threading
from pathlib import Path

BOARDS = {"nrf9160dk": "nRF9160 DK", "nrf9161dk": "nRF9161 DK", "thingy91": "Thingy:91"}


def make_hex(seed: int, records: int = 3000) -> bytes:
    """A valid Intel HEX image (data records with checksums, an end record) of ~130 kB: several fetch chunks."""
    rng = random.Random(seed)
    lines = [":020000040000FA"]
    for index in range(records):
        address = index * 16
        data = bytes(rng.randrange(256) for _ in range(16))
        body = bytes([16, (address >> 8) & 0xFF, address & 0xFF, 0]) + data
        lines.append(":" + (body + bytes([(-sum(body)) & 0xFF])).hex().upper())
    lines.append(":00000001FF")
    return ("\n".join(lines) + "\n").encode()


def hex_file(board: str) -> str:
    return f"at_host-{board}_test.hex"


class Images:
    """Per-board test images and a manifest file naming them with the given source base URLs."""

    def __init__(self, folder: Path, bases: list[str]) -> None:
        self.folder = folder
        self.content = {board: make_hex(seed) for seed, board in enumerate(BOARDS)}
        self.manifest = folder / "manifest.json"
        self.write_manifest(bases)

    def write_manifest(self, bases: list[str]) -> Path:
        boards = [{"board": board, "kit": kit, "file": hex_file(board), "size": len(self.content[board]),
                   "sha256": hashlib.sha256(self.content[board]).hexdigest(),
                   "sources": [f"{base.rstrip('/')}/{hex_file(board)}" for base in bases],
                   "license": "LicenseRef-Test"} for board, kit in BOARDS.items()]
        self.manifest.write_text(json.dumps({"license": {"id": "LicenseRef-Test", "url": "http://example.invalid/L",
                                                         "note": "TEST LICENSE NOTE"}, "boards": boards}))
        return self.manifest

    def put(self, folder: Path) -> Path:
        """Write all images into `folder` under their published names (a `--from` folder)."""
        folder.mkdir(parents=True, exist_ok=True)
        for board, data in self.content.items():
            (folder / hex_file(board)).write_bytes(data)
        return folder


class HexServer:
    """http.server in a thread on 127.0.0.1:<free port>. `routes[path] = (mode, payload)`:
    ("file", bytes), ("truncated", bytes: full Content-Length, half the body), ("nolength", bytes),
    ("redirect", url), ("status", code). Unknown paths answer 404. Every request path is recorded."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, object]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                mode, payload = server.routes.get(self.path, ("status", 404))
                if mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", str(payload))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif mode == "status":
                    self.send_error(int(payload))  # type: ignore[arg-type]
                else:
                    data = bytes(payload)  # type: ignore[arg-type]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    if mode != "nolength":
                        self.send_header("Content-Length", str(len(data)))
                    else:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2] if mode == "truncated" else data)
                    self.wfile.flush()
                    self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, images: Images, mode: str = "file", boards: list[str] | None = None,
              prefix: str = "") -> None:
        for board in boards or list(images.content):
            self.routes[f"{prefix}/{hex_file(board)}"] = (mode, images.content[board])

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
