"""Run one job on several kits at once: a thread per port, every outcome collected, none lost to another's failure."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from typing import Any


@dataclass
class Outcome:
    port: str
    value: Any = None  # what the job returned
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_each(ports: list[str], job: Callable[[str], Any], on_done: Callable[[Outcome], Any] | None = None
             ) -> list[Outcome]:
    """`job(port)` for every port, each in its own thread (no cap: kits are independent); results in port order.

    A KeyboardInterrupt in the main thread propagates; the threads are daemons and the
    jobs below (SoC.offline) put each kit back as far as they get.
    """
    outcomes = [Outcome(port) for port in ports]

    def one(outcome: Outcome) -> None:
        try:
            outcome.value = job(outcome.port)
        except Exception as exc:  # reported per kit, never raised past the others
            outcome.error = exc
        if on_done is not None:
            on_done(outcome)

    if len(outcomes) == 1:
        one(outcomes[0])
        return outcomes
    threads = [threading.Thread(target=one, args=(o,), name=f"fleet-{o.port}", daemon=True) for o in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # joins with a timeout keep Ctrl-C working
    return outcomes


def check_distinct(ports: list[str], rule: str) -> None:
    """Refuse a kit named twice, also under another name (`?options`, a symlink): `rule` says why it matters."""
    from ..errors import ValidationError
    from ..ports import kit_key

    seen: dict[str, str] = {}
    for port in ports:
        key = kit_key(port)
        if key in seen:
            same = "is named twice" if seen[key] == port else f"and {seen[key]} are the same kit"
            raise ValidationError(f"{port} {same}: {rule}")
        seen[key] = port
