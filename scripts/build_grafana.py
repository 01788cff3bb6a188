"""Write deploy/grafana/crimelink.json: the dashboard's panels for a ClickHouse server, same SQL as the worker's page.

    python scripts/build_grafana.py      (tests fail if the committed file is out of date)
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TARGET = ROOT / "deploy" / "grafana" / "crimelink.json"
PANELS = {  # stats query -> (title, Grafana panel type)
    "totals": ("Totals", "stat"),
    "daily": ("Incidents per day by region", "barchart"),
    "alerts": ("Multi-region alerts", "table"),
    "active_series": ("Active series", "table"),
    "force_grid": ("Forces in alerted series", "table"),
    "by_force": ("Incidents by force", "table"),
    "by_region": ("Incidents by region", "table"),
    "top_tactics": ("Top tactics", "barchart"),
    "top_goods": ("Top goods", "barchart"),
    "rejections": ("Rejected records by retailer and problem", "table"),
    "pending_by_retailer": ("Not yet referable, by retailer", "table"),
}


def render() -> str:
    from crimelink.sinks.queries import STATS_QUERIES

    panels = []
    for index, (name, (title, kind)) in enumerate(PANELS.items()):
        sql = " ".join(STATS_QUERIES[name].split()).replace(" FROM ", " FROM crimelink.")
        sql = sql.replace("crimelink.(", "(")
        panels.append({
            "id": index + 1, "title": title, "type": kind,
            "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
            "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"},
            "targets": [{"refId": "A", "editorType": "sql", "format": 1, "rawSql": sql,
                         "datasource": {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"}}],
        })
    dashboard = {
        "title": "crimelink", "uid": "crimelink", "schemaVersion": 39, "refresh": "30s",
        "time": {"from": "now-28d", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "grafana-clickhouse-datasource"}]},
        "panels": panels,
    }
    return json.dumps(dashboard, indent=2) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
