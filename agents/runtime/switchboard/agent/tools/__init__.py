"""Tools the domain agents' models may call: registry, Brightlane tools, demo backend."""

from switchboard.agent.tools.backend import BackendError, BrightlaneBackend
from switchboard.agent.tools.brightlane import TOOL_NAMES, brightlane_tools
from switchboard.agent.tools.demo_backend import DemoBackend
from switchboard.agent.tools.registry import (
    Proposal,
    Tool,
    ToolContext,
    ToolOutput,
    ToolRegistry,
)

__all__ = [
    "TOOL_NAMES",
    "BackendError",
    "BrightlaneBackend",
    "DemoBackend",
    "Proposal",
    "Tool",
    "ToolContext",
    "ToolOutput",
    "ToolRegistry",
    "brightlane_tools",
]
