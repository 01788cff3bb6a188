"""Where results leave the stream: ClickHouse (the store, one module per table, migrations, the read-only guard, the
dashboard SQL) and alert webhooks. No Kafka or Faust here."""
