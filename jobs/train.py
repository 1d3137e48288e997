"""spark-submit entry point: Choose each model's regularization on validation and fit it on pre-test data.

spark-submit jobs/train.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "train", *sys.argv[1:]]))
