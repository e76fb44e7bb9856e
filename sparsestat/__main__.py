"""``python -m sparsestat`` runs the command-line interface."""

from sparsestat.cli import main

raise SystemExit(main())
