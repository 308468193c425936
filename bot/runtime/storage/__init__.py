"""Where the feedback and audit logs are kept: SQLite in the data folder, or PostgreSQL."""
