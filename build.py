#!/usr/bin/env python3
"""Build the paper (`python build.py`), check it (`python build.py check`) or run the
experiments (`python build.py experiments`). Run `python build.py --help` for details."""

import sys

from report.cli import main

if __name__ == "__main__":
    sys.exit(main())
