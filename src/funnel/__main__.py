"""``python -m funnel``: the ``funnel`` command line."""

from __future__ import annotations

import sys

from funnel.cli import main

if __name__ == "__main__":
    sys.exit(main())
