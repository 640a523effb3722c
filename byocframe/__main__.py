"""``python -m byocframe``: the command line."""

import sys

from byocframe.cli import main

sys.exit(main())
