"""Who may use crimelink and what each role may see: users and their hashed tokens, browser sessions, the access-log
record. Plain code: the worker's web server (``crimelink.streams.web``) enforces it."""
