"""`python -m bot` runs the terminal bot."""

import sys

from bot.adapters.cli.app import main

sys.exit(main())
