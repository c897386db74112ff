"""``python -m dysen ...``: see :mod:`dysen.cli`."""

from .cli import main

raise SystemExit(main())
