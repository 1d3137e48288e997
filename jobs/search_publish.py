"""spark-submit entry point: the search_publish stage (see lib/shoprec/stages/search_publish.py).

spark-submit jobs/search_publish.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "search_publish", *sys.argv[1:]]))
