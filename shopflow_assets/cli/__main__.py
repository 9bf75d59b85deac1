"""`python -m shopflow_assets.cli` (what tests and process managers run without the console script)."""

import sys

from shopflow_assets.cli import main

sys.exit(main())
