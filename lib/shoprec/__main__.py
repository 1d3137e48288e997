"""``python -m shoprec``: the same as the ``shoprec`` console script."""

import sys

from shoprec.cli import main

sys.exit(main())
