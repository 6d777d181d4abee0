"""The generic agent runtime: one process per domain, configured by a YAML file."""
