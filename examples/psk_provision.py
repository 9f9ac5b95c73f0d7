#!/usr/bin/env python3
"""Provision PSKs for Mosquitto: for each kit, identity <prefix><IMEI> and a random PSK, recorded as
identity:psk in a psk_file the broker reads.

    python examples/psk_provision.py /dev/ttyACM0 [more ports] [--sec_tag 1234] [--psk_file psk_file.txt]

The psk_file is checked before any kit is touched (exit 3 if it cannot be used). Per kit the key is
marked pending in the file, written to the modem and verified, then made the entry; an update a
crash left half done is finished (or undone) by the next run on that kit.
Mosquitto: psk_file <that file>, psk_hint <anything>, use_identity_as_username true.
"""
import argparse
import sys

import at
from at import psk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ports", nargs="+", metavar="SERIAL_PORT")
    parser.add_argument("--sec_tag", type=int, default=psk.DEFAULT_SEC_TAG)
    parser.add_argument("--psk_file", default=psk.DEFAULT_PSK_FILE)
    parser.add_argument("--identity_prefix", default=psk.DEFAULT_IDENTITY_PREFIX)
    parser.add_argument("--psk_bytes", type=int, default=psk.DEFAULT_PSK_BYTES)
    args = parser.parse_args()
    try:
        psk.check_options(args.sec_tag, args.identity_prefix, args.psk_bytes)
        results = psk.provision_ports(args.ports, open_soc=at.SoC, sec_tag=args.sec_tag, psk_file=args.psk_file,
                                      identity_prefix=args.identity_prefix, psk_bytes=args.psk_bytes)
    except at.ValidationError as exc:  # options or psk_file unusable: no kit was touched
        print(f"error: {exc}", file=sys.stderr)
        return 3
    for result in results:
        if result.settled:
            print(f"{result.port}: an interrupted earlier update was {result.settled} first")
        print(f"{result.port}: {result.identity} recorded in {args.psk_file}" if result.ok
              else f"{result.port}: FAILED: {result.error}", file=sys.stdout if result.ok else sys.stderr)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
