"""spark-submit entry point: Ingest every configured source for one date into bronze (records as received).

spark-submit jobs/ingest.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "ingest", *sys.argv[1:]]))
