"""From a retailer's bytes to a canonical incident: feed adapters, the normaliser, the store registry, the tactic and
goods taxonomy, vehicle registrations, and reading feed files. No Kafka here."""
