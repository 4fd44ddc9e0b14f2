"""Built-in factbench tasks (installed as the `factbench_tasks` package)."""
