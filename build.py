#!/usr/bin/env python3
"""The project's one entry point: ``python build.py [COMMAND] [OPTIONS]``.

    python build.py                 build the paper (same as `build.py report`)
    python build.py check           validate every input without writing
    python build.py experiments     run the experiments into results/
    python build.py --help          every command and option

The commands live in ``cli.py``.
"""

import sys

from cli import main

if __name__ == "__main__":
    sys.exit(main())
