"""`python -m frontdesk.search DATA_DIR`: this machine's search indexer (search/worker.py)."""

import sys

from frontdesk.search.worker import main

sys.exit(main(sys.argv[1:]))
