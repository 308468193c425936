"""The crisisbot command line."""
