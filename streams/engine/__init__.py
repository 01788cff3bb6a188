"""What makes Faust fast and correct here, in one place (docs/faust-workarounds.md lists each with the test that
pins it and what would let it go): ``checkpoint`` (the ordered commit), ``record_batches``, ``changelog``,
``envelopes``, ``flow_control``, ``transport``, ``topic_sink`` (the sink's own consumer), ``intake_workers`` and
``garbage``."""
