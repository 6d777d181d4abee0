"""The one test harness: builders on top of the services' composition roots.

- ``apps``: one supervisor or one agent, built by ``build_supervisor`` / ``build_agent`` with
  test overrides (the session's embedder, fakes), optionally served on loopback port 0;
- ``stack``: the whole system in this process (agents and supervisor served on port 0, with
  credentials), for component tests over real gRPC;
- ``processes``: the whole system as separate processes (``switchboard.devtools.stack``),
  for system tests.

Fakes live in ``tests/fakes`` (one LLM fake family, one clock, one audit recorder).
"""
