from factbench.cli.main import entry

entry()
