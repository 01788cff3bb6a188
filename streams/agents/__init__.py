"""One agent per module; each only moves data between topics and the domain code."""
