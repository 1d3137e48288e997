"""spark-submit entry point: Compare every trained model on the same time split and metric code; select the best.

spark-submit jobs/evaluate.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "evaluate", *sys.argv[1:]]))
