-- Example analyst queries. Run one with (SQL "-": from standard input, since each starts with a comment):
-- sed -n '/name: top_tactics_per_region/,/;/p' deploy/queries/examples.sql | crimelink query --why "weekly review" -
-- Each query starts with a "-- name:" line and ends with ";". The test suite runs every one on pipeline data.
-- Registrations and descriptions are keyed pseudonyms: pseudonym('registration', 'KX19 TRV') hashes what you type.

-- name: incidents_by_force_and_week
SELECT force_id, region_id, toMonday(occurred_start) AS week, count() AS incidents,
       countIf(eligibility = 'referable') AS referable, sum(total_value_pence) / 100 AS value_pounds
FROM incidents_latest
GROUP BY force_id, region_id, week
ORDER BY week DESC, incidents DESC;

-- name: top_tactics_per_region
SELECT region_id, tactic, incidents
FROM (
    SELECT region_id, arrayJoin(tactics) AS tactic, count() AS incidents
    FROM incidents_latest
    GROUP BY region_id, tactic
)
ORDER BY region_id, incidents DESC
LIMIT 5 BY region_id;

-- name: vehicles_seen_in_several_forces
SELECT registration, uniqExact(force_id) AS forces, groupUniqArray(force_id) AS force_list, count() AS incidents,
       min(occurred_start) AS first_seen, max(occurred_start) AS last_seen
FROM incidents_latest
ARRAY JOIN vehicle_registrations AS registration
GROUP BY registration
HAVING forces >= 2
ORDER BY forces DESC, incidents DESC;

-- name: incidents_of_one_registration
SELECT retailer, incident_id, occurred_start, force_id, store_name, eligibility
FROM incidents_latest
WHERE has(vehicle_registrations, pseudonym('registration', 'KX19 TRV'))
ORDER BY occurred_start;

-- name: series_timeline
SELECT s.series_id, i.occurred_start, i.force_id, i.region_id, i.retailer, i.incident_id, i.eligibility,
       i.crime_ref_normalised, i.tactics, i.vehicle_registrations
FROM (SELECT series_id, arrayJoin(members) AS member FROM series FINAL WHERE incident_count > 1) AS s
INNER JOIN incidents_latest AS i ON concat(i.retailer, ':', i.incident_id) = s.member
ORDER BY s.series_id, i.occurred_start;

-- name: pending_backlog_per_retailer
SELECT retailer, current_status, count() AS incidents, min(deadline) AS next_deadline
FROM retailer_backlog
GROUP BY retailer, current_status
ORDER BY incidents DESC;

-- name: open_alerts_with_lead_force
SELECT alert_id, level, lead_force, forces, regions, incident_count, referable_count,
       total_value_pence / 100 AS value_pounds, at
FROM alerts FINAL
ORDER BY at DESC;
