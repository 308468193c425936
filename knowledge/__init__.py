"""Sources become dated documents, documents become passages, and both are stored."""
