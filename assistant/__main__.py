from assistant.shells.cli.main import main

raise SystemExit(main())
