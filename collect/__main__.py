"""Entry point of `python -m collect`."""

import sys

from collect.cli import main

sys.exit(main())
