"""Integration tests: real services as separate processes, called over gRPC."""
