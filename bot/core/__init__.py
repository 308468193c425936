"""Platform-neutral rules and flows: questions, knowledge administration, summaries, digests. Imports only knowledge/, index/ and the standard library."""
