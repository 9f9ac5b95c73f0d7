"""`Context`: what a command's `run(args, ctx)` gets besides its arguments."""
from __future__ import annotations

from collections.abc import Callable

from ..errors import ValidationError
from .console import Console

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    import argparse
    from typing import TypeVar

    from ..soc import SoC

    T = TypeVar("T")


class Context:
    """The console, and ports opened the way the command line asked (baud rate, timeout, -v trace)."""

    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        if getattr(args, "verbose", 0) >= 2:
            console.warn("-vv shows private keys, PSKs and passwords as they are sent")

    def open_soc(self, port: str) -> SoC:
        """A `SoC` on `port` with --mode, --baudrate, --timeout and -v/-vv tracing (keys redacted below -vv)."""
        from ..soc import SoC

        verbose = getattr(self.args, "verbose", 0)
        soc = SoC(port, mode=getattr(self.args, "mode", "auto"), baudrate=getattr(self.args, "baudrate", 115200),
                  timeout=getattr(self.args, "timeout", 10.0), trace=self.console.trace if verbose else None,
                  redact=verbose < 2)
        self.console.modes[port] = soc.mode
        if verbose:
            firmware = "the application's AT shell" if soc.mode == "shell" else "at_client"
            self.console.note(f"{port}: talking to {firmware} (mode {soc.mode})")
        return soc

    def ports(self, ports: list[str], *, require_answer: bool = True) -> list[str]:
        """Resolve `auto` to the one kit that answers AT (or the kit -s names)."""
        if "auto" not in ports:
            return list(ports)
        if len(ports) > 1:
            raise ValidationError("'auto' picks one kit: name each port to work on several")
        from ..ports import auto_port

        port = auto_port(getattr(self.args, "serial_number", None), require_answer=require_answer)
        self.console.note(f"using {port}")
        return [port]

    def port(self) -> str:
        """The one SERIAL_PORT of a single-kit command, `auto` resolved (unprobed before a -x flash)."""
        return self.ports([self.args.port], require_answer=not getattr(self.args, "program_hex", False))[0]

    def with_firmware(self, port: str, work: Callable[[], T]) -> T:
        """Run `work` between -x (flash at_client) and --program_app, when asked; else just run it."""
        args = self.args
        if not getattr(args, "program_hex", False) and not getattr(args, "program_app", None):
            return work()
        from ..flashing import AtClientUnavailable, run_with_firmware

        try:
            return run_with_firmware(work, port=port, program_hex=args.program_hex, app_hex=args.program_app,
                                     programmer=args.programmer, serial_number=args.serial_number,
                                     at_client_hex=args.at_client_hex, progress=self._flash_progress,
                                     notify=self.console.note)
        except AtClientUnavailable as exc:  # say how to get one, in this command line's words
            from .cmd_hex import how_to_get

            raise AtClientUnavailable(f"{exc}; {how_to_get(exc.board)}", exc.board) from None

    def _flash_progress(self, stage: str, percent: float | None) -> None:
        self.console.progress(stage if stage == "done" or stage.startswith("fetching") else f"flashing: {stage}",
                              percent)

    def run_on_soc(self, work: Callable[[SoC], T]) -> T:
        """Open the command's one port (after -x if asked) and run `work(soc)` on it."""
        port = self.port()

        def job() -> T:
            with self.open_soc(port) as soc:
                return work(soc)

        return self.with_firmware(port, job)
