"""The agent's side of conversation memory: the window in the prompt, follow-up retrieval."""
