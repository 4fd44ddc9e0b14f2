from factbench.cli.main import main

raise SystemExit(main())
