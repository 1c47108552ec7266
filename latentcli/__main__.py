"""`python -m latentcli TASK ...` is the same as `latentcli TASK ...`."""

import sys

from latentcli.cli import main

sys.exit(main())
