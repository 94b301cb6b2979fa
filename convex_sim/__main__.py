"""``python -m convex_sim``: the ``convex-sim`` command."""

import sys

from .cli import main

sys.exit(main())
