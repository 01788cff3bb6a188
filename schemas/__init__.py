"""Data contracts: the canonical incident, topic payloads, and reference data."""
