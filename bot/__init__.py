"""Questions become cited answers; adapters speak each chat platform (and the terminal)."""
