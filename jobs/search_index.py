"""spark-submit entry point: the search_index stage (see lib/shoprec/stages/search_index.py).

spark-submit jobs/search_index.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "search_index", *sys.argv[1:]]))
