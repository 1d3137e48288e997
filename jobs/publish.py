"""spark-submit entry point: Replace the serving tables with the staged lists, one atomic commit each.

spark-submit jobs/publish.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "publish", *sys.argv[1:]]))
