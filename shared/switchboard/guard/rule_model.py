"""What a guard rule is: a named, case-insensitive pattern and the scopes it screens.

Kept apart from the rule lists (``rules.py``, ``rules_romance.py``) so each list stays short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Scope = Literal["user", "indirect"]

FLAGS = re.IGNORECASE | re.UNICODE


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    scopes: frozenset[Scope]
    description: str


def rule(name: str, pattern: str, description: str, *, indirect_only: bool = False) -> Rule:
    scopes: frozenset[Scope] = (
        frozenset({"indirect"}) if indirect_only else frozenset({"user", "indirect"})
    )
    return Rule(name, re.compile(pattern, FLAGS), scopes, description)
