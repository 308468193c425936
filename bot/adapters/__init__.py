"""Chat platforms and the terminal: translate events into core calls and render core results."""
