"""The PostgreSQL backend (pgvector for passages' vectors, full-text search for the lexical
half): its versioned schema migrations. Imported only when a PostgreSQL database is configured,
so the embedded default never needs a PostgreSQL driver."""
