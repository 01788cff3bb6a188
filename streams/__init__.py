"""The Faust layer: one app, its topics, thin agents over crimelink's domain code."""
