"""`python -m luna_autoscaler` is the same as the `luna-autoscaler` command."""

from luna_autoscaler.cli import main

raise SystemExit(main())
