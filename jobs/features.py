"""spark-submit entry point: Build the gold features, graphs and id map for one date from silver.

spark-submit jobs/features.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "features", *sys.argv[1:]]))
