"""``python -m kubarr_app`` behaves like the ``kubarr`` command."""

import sys

from kubarr_app.cli import main

sys.exit(main())
