"""The SQL behind the dashboard, the demo's live view and the Grafana dashboard (``scripts/build_grafana.py``): one
place, importable without the app, so all three show the same figures."""

from __future__ import annotations

__all__ = ["STATS_QUERIES"]

STATS_QUERIES: dict[str, str] = {
    "totals": """
        SELECT count() AS incidents,
               countIf(eligibility = 'referable') AS referable,
               countIf(eligibility = 'pending') AS pending,
               countIf(eligibility = 'invalid') AS invalid,
               countIf(eligibility = 'expired') AS expired,
               (SELECT count() FROM dead_letters FINAL) AS rejected
        FROM incidents_latest""",
    "daily": """
        SELECT day, region_id, uniqExactMerge(incidents) AS incidents
        FROM incidents_daily WHERE day >= today() - 27
        GROUP BY day, region_id ORDER BY day, region_id""",
    "force_grid": """
        SELECT f.region AS region_id, f.force AS force_id, countIf(a.alert_id != '') AS alerts
        FROM (SELECT region_id AS region, force_id AS force FROM incidents_daily GROUP BY region, force) AS f
        LEFT JOIN (SELECT alert_id, arrayJoin(forces) AS force FROM alerts FINAL) AS a ON a.force = f.force
        GROUP BY region_id, force_id ORDER BY region_id, force_id""",
    "by_force": """
        SELECT force_id, region_id, count() AS incidents, countIf(eligibility = 'referable') AS referable,
               sum(total_value_pence) / 100 AS value_pounds
        FROM incidents_latest GROUP BY force_id, region_id ORDER BY incidents DESC""",
    "by_region": """
        SELECT region_id, count() AS incidents, uniqExact(force_id) AS forces
        FROM incidents_latest GROUP BY region_id ORDER BY incidents DESC""",
    "top_tactics": """
        SELECT arrayJoin(tactics) AS tactic, count() AS incidents
        FROM incidents_latest GROUP BY tactic ORDER BY incidents DESC LIMIT 10""",
    "top_goods": """
        SELECT arrayJoin(goods_categories) AS goods, count() AS incidents, sum(total_value_pence) / 100 AS value_pounds
        FROM incidents_latest GROUP BY goods ORDER BY incidents DESC LIMIT 10""",
    "rejections": """
        SELECT retailer, arrayJoin(reason_problems) AS problem, count() AS records
        FROM dead_letters FINAL GROUP BY retailer, problem ORDER BY records DESC LIMIT 20""",
    "alerts": """
        SELECT alert_id, series_id, level, status, lead_force, length(forces) AS force_count,
               length(regions) AS region_count,
               incident_count, referable_count, total_value_pence / 100 AS value_pounds, at
        FROM alerts FINAL ORDER BY at DESC LIMIT 20""",
    "active_series": """
        SELECT series_id, incident_count, length(forces) AS force_count, length(regions) AS region_count,
               arrayStringConcat(forces, ', ') AS force_list, last_seen
        FROM series FINAL WHERE incident_count > 1 ORDER BY last_seen DESC LIMIT 20""",
    "pending_by_retailer": """
        SELECT retailer, eligibility, count() AS incidents
        FROM incidents_latest WHERE eligibility != 'referable'
        GROUP BY retailer, eligibility ORDER BY incidents DESC""",
}
