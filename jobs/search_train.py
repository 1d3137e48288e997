"""spark-submit entry point: the search_train stage (see lib/shoprec/stages/search_train.py).

spark-submit jobs/search_train.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "search_train", *sys.argv[1:]]))
