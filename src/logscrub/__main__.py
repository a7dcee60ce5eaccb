from logscrub.cli import main

raise SystemExit(main())
