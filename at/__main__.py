"""`python -m at ...` is `cmng ...`."""
import sys

from at.cli import main

if __name__ == "__main__":
    sys.exit(main())
