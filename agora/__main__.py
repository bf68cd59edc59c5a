"""``python -m agora`` is the ``agora`` command."""

import sys

from agora.cli import main

sys.exit(main())
