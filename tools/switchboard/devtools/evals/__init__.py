"""Offline evaluations: routing on CLINC150, retrieval on SciFact, and the baseline gate."""
