"""Developer tooling: finding or starting PostgreSQL, and the local stack behind `make run`."""
