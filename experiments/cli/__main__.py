"""``python -m experiments.cli`` = the ``winback`` command."""

import sys

from experiments.cli import main

sys.exit(main())
