"""Where results leave the stream: ClickHouse tables (and, later, alert channels)."""
