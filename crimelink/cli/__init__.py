"""The command line and the application shell its commands need: the local broker, worker processes, the demo,
publishing simulated feeds and querying the worker. Of crimelink's own packages, only this one may import both the
Faust layer (``crimelink.streams``) and the sinks; the entry point is ``crimelink.cli.commands:main``."""
