"""``python -m agora`` is the ``agora`` command."""

import sys

from .cli import main

sys.exit(main())
