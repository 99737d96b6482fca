"""``python -m vrft_lib``: the ``vrft`` command line."""

import sys

from .cli import main

sys.exit(main())
