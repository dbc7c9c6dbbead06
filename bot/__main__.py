"""`python -m bot …` is the same program as `pmbot …`."""

from bot.cli import main

raise SystemExit(main())
