"""spark-submit entry point: Drop the raw records (bronze, quarantine) past retention.raw_days and VACUUM.

spark-submit jobs/retention.py --conf conf/local.yaml --date 2026-11-01
"""

import sys

from shoprec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "retention", *sys.argv[1:]]))
