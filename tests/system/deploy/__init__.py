"""Deployment artefacts: container image, docker compose, Kubernetes manifests."""
