"""`python -m axonflow_guardrail.cli`: the same command line as `axonflow-guardrail`."""

import sys

from axonflow_guardrail.cli import main

sys.exit(main())
