"""Realistic simulated feeds and ORC scenarios with ground truth, for the demo, the tests and the benchmarks. No Kafka
here: publishing them is the command line's job."""
