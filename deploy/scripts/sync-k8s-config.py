#!/usr/bin/env python3
"""Copies agents/<name>/{agent.yaml,prompt.md} into the kustomize base's ConfigMap sources.

The copies point at absolute paths inside the container (prompts from the ConfigMap,
knowledge baked into the image). tests/system/deploy/test_manifests.py fails when they drift:
run `make k8s-config` after changing an agent's config or prompt.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "k8s" / "base" / "config"
AGENTS = ["billing", "support", "account"]


def main() -> int:
    for name in AGENTS:
        src = (ROOT / "agents" / name / "agent.yaml").read_text()
        for key, old, new in [
            ("system_prompt", "prompt.md", f"/etc/switchboard/prompts/{name}.md"),
            ("knowledge_dir", "knowledge", f"/app/agents/{name}/knowledge"),
        ]:
            line = f"{key}: {old}"
            if line not in src:
                print(f"agents/{name}/agent.yaml: expected '{line}'", file=sys.stderr)
                return 1
            src = src.replace(line, f"{key}: {new}")
        header = (
            f"# Generated from agents/{name}/agent.yaml by deploy/scripts/sync-k8s-config.py\n"
            "# (absolute paths for the container; tests/system/deploy/test_manifests.py\n"
            "# checks sync).\n"
        )
        (BASE / "agents" / f"{name}.yaml").write_text(header + src)
        prompt = (ROOT / "agents" / name / "prompt.md").read_text()
        (BASE / "prompts" / f"{name}.md").write_text(prompt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
