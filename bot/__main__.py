from bot.core.cli import main

raise SystemExit(main())
