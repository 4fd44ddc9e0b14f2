"""The `factbench` command: one module per command group."""
