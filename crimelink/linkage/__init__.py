"""Cross-store, cross-retailer, cross-region linking of incidents, series and alerts (no Kafka here)."""

from crimelink.linkage.correlator import CorrelationOutcome, Correlator, CorrelatorConfig
from crimelink.linkage.scoring import blocking_keys, score_link

__all__ = ["Correlator", "CorrelatorConfig", "CorrelationOutcome", "blocking_keys", "score_link"]
