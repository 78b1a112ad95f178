"""``python -m strokeparam``: the ``strokeparam`` command."""
import sys

from .cli import main

sys.exit(main())
