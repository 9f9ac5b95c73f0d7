"""Where a simulated modem keeps its credentials and CFUN mode.

`MemoryStore` lives as long as the object; `FileStore` keeps one JSON file per
device name, so separate `cmng` runs (and a pty server) see each other's writes.
Every change is made under an exclusive lock and replaces the file atomically.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..files import atomic_write, locked  # leaf helpers: no imports from the rest of `at`

Key = tuple  # (sec_tag, type)
Factory = Callable[[], dict]


class Store:
    """The interface the modem uses; a state is {"cfun": int, "credentials": {(tag, type): content}},
    plus at_host's receive state ("rx": (partial command bytes, quote flag)), which like the
    firmware's static variables outlives a closed port."""

    def rx_state(self) -> tuple[bytes, bool]:
        return self._read().get("rx", (b"", False))

    def set_rx_state(self, buffer: bytes, inside_quotes: bool) -> None:
        with self._change() as state:
            state["rx"] = (bytes(buffer), bool(inside_quotes))

    def cfun(self) -> int:
        return self._read()["cfun"]

    def set_cfun(self, mode: int) -> None:
        with self._change() as state:
            state["cfun"] = mode

    def credentials(self) -> dict:
        return dict(self._read()["credentials"])

    def put(self, tag: int, kind: int, content: str) -> None:
        with self._change() as state:
            state["credentials"][(tag, kind)] = content

    def delete(self, tag: int, kind: int) -> bool:
        with self._change() as state:
            return state["credentials"].pop((tag, kind), None) is not None

    def _read(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _change(self) -> contextlib.AbstractContextManager:  # pragma: no cover - abstract
        raise NotImplementedError


class MemoryStore(Store):
    def __init__(self, factory: Factory) -> None:
        self._state = factory()

    def _read(self) -> dict:
        return self._state

    @contextlib.contextmanager
    def _change(self) -> Iterator[dict]:
        yield self._state


def default_state_dir() -> Path:
    """$NRF91_SIM_STATE_DIR, else the platform's user cache folder (platformdirs: XDG, macOS, Windows)."""
    env = os.environ.get("NRF91_SIM_STATE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("nrf91-at", appauthor=False)) / "sim"


class FileStore(Store):
    """One device's state in `<dir>/<name>.json` (mode 0600: it holds keys)."""

    def __init__(self, directory: Path, name: str, factory: Factory) -> None:
        self.path = Path(directory) / f"{name}.json"
        self._factory = factory
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise ValueError(f"the state option names {directory}, a file: give a folder (the state is kept in "
                             f"FOLDER/{name}.json) or state=memory")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot create the state folder {directory}: {exc.strerror or exc}; give a folder you "
                             "can write, or state=memory") from None
        with self._change():  # creates the factory state on first use
            pass

    def _load(self) -> dict | None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        rx = raw.get("rx") or {}
        return {"cfun": raw["cfun"],
                "credentials": {(c["sec_tag"], c["type"]): c["content"] for c in raw["credentials"]},
                "rx": (base64.b64decode(rx.get("buffer", "")), bool(rx.get("inside_quotes", False)))}

    def _save(self, state: dict) -> None:
        buffer, inside = state.get("rx", (b"", False))
        doc = {"version": 1, "cfun": state["cfun"],
               "credentials": [{"sec_tag": t, "type": k, "content": c}
                               for (t, k), c in sorted(state["credentials"].items())],
               "rx": {"buffer": base64.b64encode(buffer).decode("ascii"), "inside_quotes": inside}}
        atomic_write(self.path, json.dumps(doc, indent=1).encode("utf-8"), 0o600)

    def _read(self) -> dict:
        with locked(self.path):
            state = self._load()
        return state if state is not None else self._factory()

    @contextlib.contextmanager
    def _change(self) -> Iterator[dict]:
        with locked(self.path):
            state = self._load()
            if state is None:
                state = self._factory()
            yield state
            self._save(state)
