"""Conversation memory on the supervisor's side: stored turns, the window, handoff briefs."""
