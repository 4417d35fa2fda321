"""Tooling, not part of the running register: the synthetic-data generator, `generate_registry`,
the `bench*` commands and the load test. It may import every app; no app imports it."""
