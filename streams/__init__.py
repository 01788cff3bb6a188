"""The Faust layer: the app (built by ``create_app``), its topics, thin agents over crimelink's domain code, the sink
service, the web pages, and the engine layer (``engine``) that makes Faust fast and correct."""
