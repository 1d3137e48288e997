"""spark-submit entry point: Refit the selected model and stage every active user's re-ranked list with reasons.

spark-submit jobs/score.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "score", *sys.argv[1:]]))
