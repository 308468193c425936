"""Chat latency: a question through the real Telegram and Discord clients against the stand-ins."""
