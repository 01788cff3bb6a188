"""Cross-store, cross-retailer, cross-region linking of incidents, series and alerts (no Kafka here)."""

from crimelink.correlation.engine import CorrelationOutcome, Correlator, CorrelatorConfig
from crimelink.correlation.scoring import blocking_keys, score_link

__all__ = ["Correlator", "CorrelatorConfig", "CorrelationOutcome", "blocking_keys", "score_link"]
