"""``python -m byocframe.cli``: the command line."""

import sys

from byocframe.cli.app import main

sys.exit(main())
