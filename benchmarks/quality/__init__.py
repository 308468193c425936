"""Retrieval quality: the two backends on a BEIR set, the answer threshold, retrieval variants."""
