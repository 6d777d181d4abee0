"""Switchboard's shared library: embeddings, errors, LLM access, gRPC plumbing."""
