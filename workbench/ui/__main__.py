"""`python -m workbench.ui [PROJECT] [--demo]` (what `workbench gui` runs)."""

from workbench.ui.app import main

raise SystemExit(main())
