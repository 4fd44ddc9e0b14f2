from factbench.cli import main

raise SystemExit(main())
