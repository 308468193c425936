"""Speed: cold start, ingest, ask latency, vector indexes, memory, and the slower commands."""
