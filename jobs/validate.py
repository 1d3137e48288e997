"""spark-submit entry point: Clean and validate one date's bronze into silver, behind the Great Expectations gate.

spark-submit jobs/validate.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "validate", *sys.argv[1:]]))
