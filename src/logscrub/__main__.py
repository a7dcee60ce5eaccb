from logscrub.cli.main import main

raise SystemExit(main())
