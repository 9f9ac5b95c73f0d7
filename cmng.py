#!/usr/bin/env python3
"""Run the cmng command line from a checkout: `python cmng.py list sim://demo`."""
import sys

from at.cli import main

if __name__ == "__main__":
    sys.exit(main())
