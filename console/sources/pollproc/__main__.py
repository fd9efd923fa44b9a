"""`python -m console.sources.pollproc`: the poll process (child.py)."""

import sys

from console.sources.pollproc.child import main

sys.exit(main())
