"""The supervisor: routes each request to the right domain agent over gRPC."""
