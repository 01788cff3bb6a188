"""``python -m crimelink.cli``: how the worker starts its intake workers."""

import sys

from crimelink.cli.commands import main

sys.exit(main())
