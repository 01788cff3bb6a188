"""crimelink: streaming ingestion and correlation for organised retail crime intelligence."""

__all__ = ["__version__"]

__version__ = "0.1.0"
