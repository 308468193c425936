"""`python -m bot` runs the terminal bot."""

import sys

from bot.cli import main

sys.exit(main())
