"""`nrf91-sim NAME [options]`: serve a simulated nRF91 on a pseudo-terminal.

Prints the device path on the first line of stdout, then serves until Ctrl-C.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from .device import check_name, make_front_end, make_modem
from .options import OPTIONS, parse_options
from .store import default_state_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nrf91-sim",
        description="Serve a simulated nRF91 (at_client firmware) on a pseudo-terminal.",
        epilog=f"State is kept in {default_state_dir()} (set NRF91_SIM_STATE_DIR or --state to change).")
    parser.add_argument("name", help="device name: the same name is the same simulated kit (e.g. demo)")
    for name, (_, _, _, text) in OPTIONS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="VALUE", help=text)
    parser.add_argument("--link", metavar="PATH", help="also make PATH a symlink to the pty")
    return parser


def _fail(message: str) -> int:
    print(f"nrf91-sim: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from .pty import PtyServer
    except ImportError as exc:  # no termios/pty (Windows)
        return _fail(f"this system has no pseudo-terminals ({exc}); use the sim://NAME URL from Python or cmng instead")
    if args.link and os.path.lexists(args.link) and not os.path.islink(args.link):
        return _fail(f"--link {args.link} exists and is not a symlink: refusing to replace it; choose another path")
    try:
        check_name(args.name)
        options = parse_options({k: v for k, v in vars(args).items() if k in OPTIONS and v is not None})
        if options.state not in (None, "memory") and os.path.exists(options.state) and not os.path.isdir(options.state):
            return _fail(f"--state {options.state} is a file, not a folder: give a folder (or 'memory')")
        modem = make_modem(args.name, options)
    except ValueError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot keep the device state: {exc.strerror or exc} ({exc.filename or ''})")
    try:
        server = PtyServer(modem, make_front_end(modem, options), options.link)
    except (ImportError, OSError, AttributeError) as exc:  # no tty module or os.openpty (Windows)
        return _fail(f"this system cannot open a pseudo-terminal ({exc}); use sim://{args.name} from cmng "
                     "or Python instead")
    if args.link:
        try:
            if os.path.lexists(args.link):
                os.unlink(args.link)
            os.symlink(server.path, args.link)
        except OSError as exc:
            print(f"nrf91-sim: error: cannot make {args.link}: {exc}", file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    print(server.path, flush=True)
    print(f"serving simulated nRF91 '{args.name}' (IMEI {modem.imei}) on {server.path}; Ctrl-C stops",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if args.link and os.path.islink(args.link):
            os.unlink(args.link)
    return 0


if __name__ == "__main__":
    sys.exit(main())
