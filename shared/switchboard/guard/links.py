"""The links in a text: e-mail addresses and the hosts of URLs and domain names.

Output screening uses this to find links an answer gives that none of its sources gave (a
planted or invented "visit this page" / "write to this address"); the agent's output screen
and the supervisor's check of a merged compound answer share it.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"https?://[^\s)\]>\"']+|\bwww\.[^\s)\]>\"']+", re.IGNORECASE)
_HOST = re.compile(
    r"\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|example|co|app|dev|info|biz|xyz|ru|cn|tk|top|me)\b",
    re.IGNORECASE,
)


def links(text: str) -> set[str]:
    """E-mail addresses, and the hosts of URLs and bare domain names, lower-cased."""
    found = {m.lower().rstrip(".,;:") for m in _EMAIL.findall(text)}
    without_emails = _EMAIL.sub(" ", text)
    for url in _URL.findall(without_emails):
        host = re.sub(r"^(?:https?://)?", "", url.lower()).split("/")[0].split("?")[0]
        found.add(host.rstrip(".,;:"))
    found.update(h.lower() for h in _HOST.findall(_URL.sub(" ", without_emails)))
    return {f for f in found if f}


def unsupported_links(text: str, known: str) -> list[str]:
    """The links of ``text`` that do not appear in ``known`` (case-insensitive), sorted."""
    lowered = known.lower()
    return sorted(link for link in links(text) if link not in lowered)
