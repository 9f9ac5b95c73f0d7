"""`cmng`: the command line front end. Parses, calls the library, prints, maps errors to exit codes.

The original interface (`cmng OPERATION SERIAL_PORT --sec_tag ... --cred_type ...`)
keeps working as documented; options may stand before or after the operation.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any, Callable, Iterator, Optional

from . import credentials, ports, psk
from .credentials import NRF_CLOUD_SEC_TAG, SECRET_TYPES, type_name
from .errors import (
    ATError,
    ATTimeoutError,
    CommandError,
    FlashError,
    PortError,
    ProtocolError,
    ValidationError,
    VerificationError,
)
from .files import atomic_write
from .flashing import run_with_firmware
from .soc import CFUN_INACTIVE_MODES, CFUN_MODE_POWER_OFF, DEFAULT_TIMEOUT, SoC

EXIT_OK = 0
EXIT_FAILURE = 1  # unexpected internal error (a bug: please report it)
EXIT_USAGE = 2
EXIT_VALIDATION = 3
EXIT_MODEM = 4  # the modem answered ERROR / +CME ERROR
EXIT_TIMEOUT = 5
EXIT_PORT = 6
EXIT_FLASH = 7
EXIT_VERIFY = 8  # the modem answered something unexpected, or stored something else
EXIT_SOME_KITS = 9  # psk with several ports: at least one kit failed
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_USAGE: "usage error (bad or missing options)",
    EXIT_VALIDATION: "input refused before anything was sent (content, sec_tag, type, file)",
    EXIT_MODEM: "the modem refused the command (ERROR or +CME ERROR)",
    EXIT_TIMEOUT: "the modem did not answer in time",
    EXIT_PORT: "the serial port could not be opened, is busy, or went away",
    EXIT_FLASH: "flashing failed, or no way to flash",
    EXIT_VERIFY: "the modem answered unexpectedly or stored something else than was sent",
    EXIT_SOME_KITS: "psk: some of several kits failed (each is reported)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

OPERATIONS = ("list", "read", "write", "delete", "query", "imei", "ports", "psk")
EPILOG = "WARNING: nrf_cloud relies on credentials with sec_tag 16842753."


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    for kind, code in ((ValidationError, EXIT_VALIDATION), (CommandError, EXIT_MODEM), (ATTimeoutError, EXIT_TIMEOUT),
                       (PortError, EXIT_PORT), (FlashError, EXIT_FLASH), (VerificationError, EXIT_VERIFY),
                       (ProtocolError, EXIT_VERIFY), (ATError, EXIT_FAILURE)):
        if isinstance(exc, kind):
            return code
    return EXIT_FAILURE


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as one line plus the usage, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"cmng: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cmng", description="A command line interface for managing nRF91 credentials.",
        epilog=EPILOG + "\n\nExit codes: " + "; ".join(f"{c} {t}" for c, t in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("operation", choices=OPERATIONS, help="operation")
    parser.add_argument("ports", nargs="*", metavar="SERIAL_PORT",
                        help="serial port device to use for AT commands: a device path, COM port, pyserial URL, "
                             "sim://NAME (a simulated kit) or auto. psk takes several")
    cred = parser.add_argument_group("credentials")
    cred.add_argument("--sec_tag", type=int, metavar="SECURITY_TAG", help="specify sec_tag [0, 2147483647]")
    cred.add_argument("--cred_type", type=int, metavar="CREDENTIAL_TYPE",
                      help="specify cred_type: 0 root CA, 1 client cert, 2 private key, 3 PSK, 4 PSK identity")
    cred.add_argument("--passwd", metavar="PRIVATE_KEY_PASSWD", help="specify private key password")
    cred.add_argument("-o", "--out_file", metavar="PATH_TO_OUT_FILE",
                      help="write output from read operation to file instead of stdout.")
    content = cred.add_mutually_exclusive_group()
    content.add_argument("--content", metavar="CONTENT", help="specify content (i.e. key material)")
    content.add_argument("--content_path", metavar="PATH_TO_CONTENT",
                         help="read content (i.e. key material) from file; '-' reads standard input")
    cred.add_argument("--power_off", action="store_true",
                      help="put modem in CFUN_MODE_POWER_OFF if necessary (and leave it there); without it an "
                           "active modem is taken offline (CFUN=4) for write/delete and restored after")
    cred.add_argument("--no-verify", dest="verify", action="store_false",
                      help="do not check the stored SHA-256 after a write")
    cred.add_argument("-c", "--command", metavar="MODEM_COMMAND", help="request custom information from modem (query)")

    flash = parser.add_argument_group("flashing")
    flash.add_argument("-s", "--serial_number", "--serial-number", dest="serial_number", metavar="JLINK_SERIAL_NUMBER",
                       help="serial number of J-Link (also picks the kit for SERIAL_PORT 'auto')")
    flash.add_argument("-x", "--program_hex", action="store_true",
                       help="begin by writing prebuilt 'at_client' hex file to device")
    flash.add_argument("--program_app", metavar="PATH_TO_APP_HEX_FILE",
                       help="program specified hex file to device before finishing")
    flash.add_argument("--at_client_hex", metavar="PATH", help="the at_client hex for -x (default: hex/at_client_<board>.hex)")
    flash.add_argument("--programmer", choices=("auto", "pynrfjprog", "nrfutil"), default="auto",
                       help="flashing backend (default: auto)")

    prov = parser.add_argument_group("psk provisioning")
    prov.add_argument("--psk_file", default=psk.DEFAULT_PSK_FILE, help="Mosquitto psk_file to update (default: %(default)s)")
    prov.add_argument("--identity_prefix", default=psk.DEFAULT_IDENTITY_PREFIX,
                      help="PSK identity is PREFIX + IMEI (default: %(default)s)")
    prov.add_argument("--psk_bytes", type=int, default=psk.DEFAULT_PSK_BYTES, help="PSK length in bytes (default: %(default)s)")
    prov.add_argument("--show-psk", action="store_true", help="print the generated PSKs (they are secret)")

    out = parser.add_argument_group("output and link")
    out.add_argument("--json", action="store_true", help="print one JSON document on stdout; messages go to stderr")
    out.add_argument("-v", "--verbose", action="count", default=0,
                     help="-v shows AT traffic with keys and PSKs redacted; -vv shows everything")
    out.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                     help="seconds to wait for an answer, on top of the time the bytes need (default: %(default)s)")
    out.add_argument("--baudrate", type=int, default=115200, help="serial baud rate (default: %(default)s)")
    return parser


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    op = args.operation
    if op == "ports":
        if args.ports:
            parser.error("ports takes no SERIAL_PORT")
        return
    if not args.ports:
        parser.error(f"{op} needs a SERIAL_PORT (a device, sim://NAME, or auto)")
    if op == "query" and args.command is None and len(args.ports) == 2:
        args.command = args.ports.pop()
    if op != "psk" and len(args.ports) > 1:
        parser.error(f"{op} takes one SERIAL_PORT; only psk provisions several kits at once")
    if op in ("read", "write", "delete"):
        if args.sec_tag is None:
            parser.error("sec_tag required for all operations except listing")
        if args.cred_type is None:
            parser.error("cred_type required for all operations except listing")
    if op == "write" and args.content is None and args.content_path is None:
        parser.error("content or content_path is required when writing")
    if args.out_file and op != "read":
        parser.error("out_file is only available when reading credentials")
    if op == "query" and not args.command:
        parser.error("query command has to be specified (-c 'AT+CGMR')")
    if op == "psk" and (args.program_hex or args.program_app) and len(args.ports) > 1:
        parser.error("flashing (-x/--program_app) works on one kit at a time")


class Console:
    """Where messages go: stderr always; stdout holds the result (or the one JSON document)."""

    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode

    def note(self, message: str) -> None:
        print(f"cmng: {message}", file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        print(f"cmng: warning: {message}", file=sys.stderr, flush=True)

    def trace(self, direction: str, text: str) -> None:
        for index, line in enumerate(text.split("\n")):
            print(f"{direction if index == 0 else ' '} {line}", file=sys.stderr)

    def progress(self, stage: str, percent: Optional[float]) -> None:
        if self.json_mode or not sys.stderr.isatty():
            return
        shown = f" {percent:3.0f}%" if percent is not None else ""
        end = "\n" if stage == "done" else ""
        print(f"\r\x1b[Kflashing: {stage}{shown}", end=end, file=sys.stderr, flush=True)

    def result(self, document: Any, text: Optional[str]) -> None:
        if self.json_mode:
            json.dump(document, sys.stdout, indent=2)
            sys.stdout.write("\n")
        elif text:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in [header] + rows]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _writable(soc: SoC, args: argparse.Namespace, con: Console) -> Iterator[None]:
    """Make the modem accept write/delete: offline for the operation, then back as it was."""
    if args.power_off:
        mode = soc.get_functional_mode()
        if mode not in CFUN_INACTIVE_MODES:
            con.note(f"modem is active (CFUN={mode}): powering it off (CFUN=0) as --power_off asks; it stays off")
            soc.set_functional_mode(CFUN_MODE_POWER_OFF)
        yield
        return
    with soc.offline() as mode:  # yields the mode it found, so CFUN is queried once
        if mode not in CFUN_INACTIVE_MODES:
            con.note(f"modem is active (CFUN={mode}): taking it offline (CFUN=4) for this, restoring CFUN={mode} after")
        yield


def _read_content(args: argparse.Namespace, con: Console) -> bytes:
    if args.content is not None:
        if args.cred_type in SECRET_TYPES:
            con.warn(f"--content puts the {type_name(args.cred_type)} in your shell history and the process list; "
                     "prefer --content_path FILE or --content_path - (standard input)")
        return args.content.encode("utf-8")
    if args.content_path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(args.content_path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ValidationError(f"cannot read {args.content_path}: {exc.strerror or exc}") from None


def _cred_doc(cred: Any) -> dict:
    return {"sec_tag": cred.sec_tag, "cred_type": cred.cred_type, "type_name": cred.type_name, "sha256": cred.sha256}


def _do_list(soc: SoC, args: argparse.Namespace, con: Console) -> int:
    found = soc.list_credentials(args.sec_tag, args.cred_type)
    rows = [[str(c.sec_tag), str(c.cred_type), c.type_name, c.sha256 or "(not reported)"] for c in found]
    if not found and not con.json_mode:
        con.note("no credentials match")
    con.result({"port": soc.port, "credentials": [_cred_doc(c) for c in found]},
                _table(rows, ["SEC_TAG", "TYPE", "NAME", "SHA-256"]) if found else None)
    return EXIT_OK


def _do_read(soc: SoC, args: argparse.Namespace, con: Console) -> int:
    content = soc.read_credential(args.sec_tag, args.cred_type)
    if args.out_file:
        atomic_write(args.out_file, content.encode("utf-8"), 0o644)
        con.note(f"wrote sec_tag {args.sec_tag} type {args.cred_type} to {args.out_file}")
    doc = {"port": soc.port, "sec_tag": args.sec_tag, "cred_type": args.cred_type, "content": content}
    if con.json_mode:
        con.result(doc, None)
    elif not args.out_file:
        sys.stdout.write(content)
        sys.stdout.flush()
    return EXIT_OK


def _nrf_cloud_warning(args: argparse.Namespace, con: Console, verb: str) -> None:
    if args.sec_tag == NRF_CLOUD_SEC_TAG:
        con.warn(f"{verb} sec_tag {NRF_CLOUD_SEC_TAG}: nRF Cloud relies on these credentials; the kit cannot "
                 "connect to nRF Cloud until they are restored")


def _do_write(soc: SoC, args: argparse.Namespace, con: Console, content: bytes) -> int:
    if args.sec_tag == NRF_CLOUD_SEC_TAG and soc.list_credentials(args.sec_tag, args.cred_type):
        _nrf_cloud_warning(args, con, "overwriting")
    with _writable(soc, args, con):
        stored = soc.write_credential(args.sec_tag, args.cred_type, content, args.passwd, verify=args.verify)
    con.result({"port": soc.port, "written": _cred_doc(stored), "verified": args.verify},
               f"wrote sec_tag {stored.sec_tag} type {stored.cred_type} ({stored.type_name}), "
               f"SHA-256 {stored.sha256 or '(not reported)'}" + (" verified" if args.verify else ""))
    return EXIT_OK


def _do_delete(soc: SoC, args: argparse.Namespace, con: Console) -> int:
    _nrf_cloud_warning(args, con, "deleting")
    with _writable(soc, args, con):
        soc.delete_credential(args.sec_tag, args.cred_type)
    con.result({"port": soc.port, "deleted": {"sec_tag": args.sec_tag, "cred_type": args.cred_type}},
               f"deleted sec_tag {args.sec_tag} type {args.cred_type} ({type_name(args.cred_type)})")
    return EXIT_OK


def _do_query(soc: SoC, args: argparse.Namespace, con: Console) -> int:
    response = soc.response(args.command)
    lines = list(response.lines)
    con.result({"port": soc.port, "command": args.command, "response": lines, "final": response.final,
                "ok": response.ok}, "\n".join(lines + [response.final]))
    soc.check(response)  # a failed command raises its explained error (exit code, message) without resending
    return EXIT_OK


def _do_imei(soc: SoC, args: argparse.Namespace, con: Console) -> int:
    imei = soc.get_imei()
    con.result({"port": soc.port, "imei": imei}, imei)
    return EXIT_OK


def _do_ports(args: argparse.Namespace, con: Console) -> int:
    kits = ports.probe_kits(ports.find_kits())
    docs = [{"serial_number": k.serial_number, "kit": k.name, "at_port": k.at_port, "ports": k.ports,
             "vid": f"0x{k.vid:04X}", "pid": f"0x{k.pid:04X}", "answers_at": k.responding, "note": k.note}
            for k in kits]
    rows = [[k.serial_number, k.name, k.at_port, "yes" if k.responding else f"no ({k.note})" if k.note else "no",
             " ".join(k.ports)] for k in kits]
    if not kits and not con.json_mode:
        con.note("no Nordic kit found on USB (J-Link VID 0x1366 or Nordic VID 0x1915)")
    con.result({"kits": docs}, _table(rows, ["SERIAL", "KIT", "AT PORT", "ANSWERS AT", "PORTS"]) if kits else None)
    return EXIT_OK


def _do_psk(args: argparse.Namespace, con: Console, open_soc: Callable[[str], SoC]) -> int:
    psk.check_options(args.sec_tag if args.sec_tag is not None else psk.DEFAULT_SEC_TAG,
                      args.identity_prefix, args.psk_bytes)
    results = psk.provision_ports(
        args.ports, open_soc=open_soc, sec_tag=args.sec_tag if args.sec_tag is not None else psk.DEFAULT_SEC_TAG,
        psk_file=args.psk_file, identity_prefix=args.identity_prefix, psk_bytes=args.psk_bytes,
        on_offline=lambda mode: con.note(f"modem was active (CFUN={mode}): offline for the writes, restored after"))
    docs = []
    for r in results:
        doc = {"port": r.port, "ok": r.ok, "imei": r.imei, "identity": r.identity, "sec_tag": r.sec_tag,
               "error": None if r.ok else str(r.error), "exit_code": EXIT_OK if r.ok else exit_code_for(r.error)}
        if args.show_psk and r.ok:
            doc["psk"] = r.psk
        docs.append(doc)
    rows = [[r.port, r.identity or "-", "ok" if r.ok else "FAILED"] + ([r.psk or "-"] if args.show_psk else [])
            for r in results]
    header = ["PORT", "IDENTITY", "RESULT"] + (["PSK"] if args.show_psk else [])
    con.result({"psk_file": str(args.psk_file), "results": docs}, _table(rows, header))
    failed = [r for r in results if not r.ok]
    for r in failed:
        con.note(f"{r.port}: {r.error}")
    if failed:
        con.note(f"{len(failed)} of {len(results)} kits failed; the others are provisioned and recorded in {args.psk_file}")
    if not failed:
        return EXIT_OK
    if len(results) == 1:
        return exit_code_for(failed[0].error)  # type: ignore[arg-type]
    return EXIT_SOME_KITS


def run(args: argparse.Namespace, con: Console) -> int:
    if args.verbose >= 2:
        con.warn("-vv shows private keys, PSKs and passwords as they are sent")
    trace = con.trace if args.verbose else None

    def open_soc(port: str) -> SoC:
        return SoC(port, baudrate=args.baudrate, timeout=args.timeout, trace=trace, redact=args.verbose < 2)

    if args.operation == "ports":
        return _do_ports(args, con)
    content = _read_content(args, con) if args.operation == "write" else b""
    if args.operation == "write":  # refuse bad content before any port is opened or kit flashed
        credentials.check_sec_tag(args.sec_tag, writing=True)
        credentials.prepare_content(args.cred_type, content, args.passwd)
    if args.operation in ("read", "delete"):
        credentials.check_sec_tag(args.sec_tag, writing=args.operation == "delete")
        (credentials.check_readable if args.operation == "read" else credentials.check_cred_type)(args.cred_type)

    def work() -> int:
        if args.operation == "psk":
            return _do_psk(args, con, open_soc)
        with open_soc(args.ports[0]) as soc:
            if args.operation == "write":
                return _do_write(soc, args, con, content)
            handler = {"list": _do_list, "read": _do_read, "delete": _do_delete, "query": _do_query,
                       "imei": _do_imei}[args.operation]
            return handler(soc, args, con)

    if "auto" in args.ports:
        if len(args.ports) > 1:
            raise ValidationError("'auto' picks one kit: name each port to provision several")
        args.ports = [ports.auto_port(args.serial_number, require_answer=not args.program_hex)]
        con.note(f"using {args.ports[0]}")
    port = args.ports[0]
    return run_with_firmware(work, port=port, program_hex=args.program_hex, app_hex=args.program_app,
                             programmer=args.programmer, serial_number=args.serial_number,
                             at_client_hex=args.at_client_hex, progress=con.progress, notify=con.note)


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    con = Console(args.json)
    try:
        return run(args, con)
    except KeyboardInterrupt as exc:
        con.note(getattr(exc, "detail", "") or "interrupted")
        return EXIT_INTERRUPTED
    except ATError as exc:
        code = exit_code_for(exc)
        print(f"cmng: error: {exc}", file=sys.stderr)
        if args.json:
            error = {"message": str(exc), "exit_code": code, "type": type(exc).__name__}
            if getattr(exc, "code", None) is not None:
                error["cme_error"] = exc.code  # type: ignore[attr-defined]
            con.result({"error": error}, None)
        return code
    except BrokenPipeError:
        return EXIT_OK
