"""``python -m rtwin`` runs the command-line interface."""

from rtwin.cli import main

raise SystemExit(main())
