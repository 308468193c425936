"""Passages become vectors; questions become ranked passages."""
