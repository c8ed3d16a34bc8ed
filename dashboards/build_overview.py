#!/usr/bin/env python3
"""Builds dashboards/argus-overview.json (Grafana dashboard JSON, schema 39, Prometheus datasource
input DS_PROMETHEUS). Edit here, run `python3 dashboards/build_overview.py`, commit both."""
import json
import os

SEL = 'instance=~"$instance",service=~"$service",route=~"$route"'
NODE = 'instance=~"$instance"'
RI = "$__rate_interval"
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

panels = []
y = 0
pid = 0


def row(title):
    global y, pid
    pid += 1
    panels.append({"id": pid, "type": "row", "title": title, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
    y += 1


def panel(title, targets, unit="short", w=8, h=8, x=0, description="", thresholds=None, stack=False):
    global pid
    pid += 1
    steps = [{"color": "green", "value": None}] + [{"color": c, "value": v} for v, c in (thresholds or [])]
    panels.append({
        "id": pid, "type": "timeseries", "title": title, "description": description, "datasource": DS,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps},
                                     "custom": {"stacking": {"mode": "normal" if stack else "none"},
                                                "thresholdsStyle": {"mode": "line" if thresholds else "off"}}},
                        "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": l} for i, (e, l) in enumerate(targets)],
    })


def line(*specs):
    """Places panels (built by `panel`) side by side on one line of height 8."""
    global y
    x = 0
    for spec in specs:
        spec["x"] = x
        panel(**spec)
        x += spec.get("w", 8)
    y += 8


def q(title, targets, **kw):
    return dict(title=title, targets=targets, **kw)


row("Traffic")
line(
    q("Requests per second (gateway-made apart from upstream)",
      [(f'sum by (source) (rate(kong_http_requests_total{{{SEL}}}[{RI}]))', "{{source}}")], unit="reqps", stack=True,
      description="source=service: the upstream answered; source=kong: Argus answered itself (no route, errors, rejections)."),
    q("5xx share (gateway-made apart from upstream)",
      [(f'sum by (source) (rate(kong_http_requests_total{{code=~"5..",{SEL}}}[{RI}])) / ignoring(source) group_left '
        f'sum(rate(kong_http_requests_total{{{SEL}}}[{RI}]))', "{{source}}")],
      unit="percentunit", thresholds=[(0.01, "orange"), (0.05, "red")]),
    q("Requests per second by status code",
      [(f'sum by (code) (rate(kong_http_requests_total{{{SEL}}}[{RI}]))', "{{code}}")], unit="reqps", stack=True),
)
line(
    q("Error share by service (4xx and 5xx)",
      [(f'sum by (service) (rate(kong_http_requests_total{{code=~"[45]..",{SEL}}}[{RI}])) / '
        f'sum by (service) (rate(kong_http_requests_total{{{SEL}}}[{RI}]))', "{{service}}")],
      unit="percentunit", thresholds=[(0.05, "orange"), (0.2, "red")]),
    q("Error share by route (4xx and 5xx)",
      [(f'sum by (route) (rate(kong_http_requests_total{{code=~"[45]..",{SEL}}}[{RI}])) / '
        f'sum by (route) (rate(kong_http_requests_total{{{SEL}}}[{RI}]))', "{{route}}")],
      unit="percentunit", thresholds=[(0.05, "orange"), (0.2, "red")]),
    q("429 responses per second by service",
      [(f'sum by (service) (rate(kong_http_requests_total{{code="429",{SEL}}}[{RI}]))', "{{service}}")], unit="reqps",
      description="Requests rejected by rate limiting."),
)
line(
    q("Requests per second by consumer",
      [(f'sum by (consumer) (rate(kong_http_requests_total{{consumer!="",{SEL}}}[{RI}]))', "{{consumer}}")], unit="reqps",
      description="Needs per_consumer: true on the prometheus plugin."),
    q("429 share by consumer",
      [(f'sum by (consumer) (rate(kong_http_requests_total{{code="429",consumer!="",{SEL}}}[{RI}])) / '
        f'sum by (consumer) (rate(kong_http_requests_total{{consumer!="",{SEL}}}[{RI}]))', "{{consumer}}")], unit="percentunit"),
    q("429 share per node (5 min, recorded)",
      [(f'argus:http_requests_429:ratio_rate5m{{{NODE}}}', "{{instance}}")], unit="percentunit",
      thresholds=[(0.05, "orange")]),
)

row("Rate limiting")
line(
    q("Gateway 429s per second by route and window",
      [(f'sum by (route, period) (rate(argus_ratelimit_rejections_total{{{SEL}}}[{RI}]))', "{{route}} {{period}}")], unit="reqps",
      stack=True, description="Requests the rate-limiting plugin rejected (always exported, no prometheus plugin needed)."),
    q("Rejections by instance and limit_by",
      [(f'sum by (plugin, limit_by) (rate(argus_ratelimit_rejections_total{{{SEL}}}[{RI}]))', "{{plugin}} ({{limit_by}})")], unit="reqps"),
    q("Counter store (Redis) errors",
      [(f'sum by (plugin) (rate(argus_ratelimit_store_errors_total{{{SEL}}}[{RI}]))', "{{plugin}} request checks"),
       (f'sum by (instance) (rate(argus_ratelimit_sync_errors_total{{{NODE}}}[{RI}]))', "{{instance}} sync flushes")],
      unit="ops", thresholds=[(0.001, "red")],
      description="Checks that failed because Redis did (served when fault_tolerant, else 500), and failed sync_rate flushes (retried)."),
)
line(
    q("Rate-limited share of requests by route",
      [(f'sum by (route) (rate(argus_ratelimit_rejections_total{{{SEL}}}[{RI}])) / '
        f'sum by (route) (rate(kong_http_requests_total{{{SEL}}}[{RI}]))', "{{route}}")],
      unit="percentunit", thresholds=[(0.05, "orange"), (0.2, "red")],
      description="How much of each route's traffic its limits refuse (the denominator needs status_code_metrics)."),
    q("Requests counted locally, not yet synced to Redis (sync_rate)",
      [(f'argus_ratelimit_sync_unsynced_requests{{{NODE}}}', "{{instance}}")], unit="short"),
    q("Upstream health transitions",
      [(f'sum by (upstream, target, state, reason) (increase(argus_upstream_health_transitions_total{{{NODE}}}[{RI}]))',
        "{{upstream}} {{target}} {{state}} ({{reason}})")], unit="short",
      description="Targets taken out or brought back by active, passive or manual health checks."),
)

row("Access control")
line(
    q("401/403 per second by route and reason",
      [(f'sum by (route, plugin, reason) (rate(argus_access_rejections_total{{{SEL}}}[{RI}]))', "{{route}} {{plugin}} {{reason}}")],
      unit="reqps", stack=True,
      description="Requests refused by key-auth, jwt, basic-auth, acl or ip-restriction (always exported)."),
    q("Most refused client addresses",
      [(f'topk(10, sum by (client) (rate(argus_access_rejections_by_client_total{{{NODE}}}[{RI}])))', "{{client}}")], unit="reqps",
      description="A burst of failed keys or tokens from one address stands out here (the first 256 addresses are tracked, the rest is __overflow__)."),
    q("Refused share of requests",
      [(f'sum(rate(argus_access_rejections_total{{{SEL}}}[{RI}])) / sum(rate(kong_http_requests_total{{{SEL}}}[{RI}]))', "refused")],
      unit="percentunit", thresholds=[(0.05, "orange"), (0.2, "red")],
      description="Needs status_code_metrics on the prometheus plugin for the denominator."),
)

row("Latency")
line(*[
    q(f"{name} latency p50 / p95 / p99",
      [(f'histogram_quantile({p}, sum by (le) (rate({metric}_bucket{{{SEL}}}[{RI}])))', f"p{int(p * 100)}") for p in (0.5, 0.95, 0.99)],
      unit="ms", thresholds=[(1000, "red")] if metric == "kong_request_latency_ms" else None)
    for name, metric in (("Total", "kong_request_latency_ms"), ("Upstream", "kong_upstream_latency_ms"), ("Gateway (Argus)", "kong_kong_latency_ms"))
])
line(
    q("p99 total latency by service",
      [(f'histogram_quantile(0.99, sum by (le, service) (rate(kong_request_latency_ms_bucket{{{SEL}}}[{RI}])))', "{{service}}")], unit="ms"),
    q("p99 upstream latency by route",
      [(f'histogram_quantile(0.99, sum by (le, route) (rate(kong_upstream_latency_ms_bucket{{{SEL}}}[{RI}])))', "{{route}}")], unit="ms"),
    q("Share of requests slower than 1 s (SLO: under 1%)",
      [(f'1 - sum(rate(kong_request_latency_ms_bucket{{le="1000",{SEL}}}[{RI}])) / sum(rate(kong_request_latency_ms_count{{{SEL}}}[{RI}]))', "slow")],
      unit="percentunit", thresholds=[(0.01, "red")]),
)

row("Bandwidth and upstreams")
line(
    q("Bandwidth", [(f'sum by (direction) (rate(kong_bandwidth_bytes{{{SEL}}}[{RI}]))', "{{direction}}")], unit="Bps"),
    q("Bandwidth by service (egress)",
      [(f'sum by (service) (rate(kong_bandwidth_bytes{{direction="egress",{SEL}}}[{RI}]))', "{{service}}")], unit="Bps"),
    q("Upstream targets by state",
      [(f'count by (upstream, state) (kong_upstream_target_health{{{NODE}}} == 1)', "{{upstream}} {{state}}")], unit="short",
      description="healthchecks_off: health checks not configured; unhealthy or dns_error: taken out of the balancer."),
)

row("proxy-cache")
line(
    q("Cache hit ratio by route",
      [(f'sum by (route) (rate(argus_proxy_cache_requests_total{{cache_status="hit",{SEL}}}[{RI}])) / '
        f'sum by (route) (rate(argus_proxy_cache_requests_total{{{SEL}}}[{RI}]))', "{{route}}")], unit="percentunit",
      description="Requests answered from the cache among those proxy-cache handled (hit, miss, refresh, bypass)."),
    q("Cache outcomes per second",
      [(f'sum by (cache_status) (rate(argus_proxy_cache_requests_total{{{SEL}}}[{RI}]))', "{{cache_status}}")], unit="ops"),
    q("Cache memory (share of the budget) and evictions",
      [(f'argus_proxy_cache_bytes{{{NODE}}} / argus_proxy_cache_budget_bytes{{{NODE}}}', "{{instance}} used"),
       (f'rate(argus_proxy_cache_evictions_total{{{NODE}}}[{RI}])', "{{instance}} evictions/s")], unit="short",
      description="Near 1 with evictions climbing: the budget is too small for the working set."),
)

row("Event pipeline")
line(
    q("Request events published per second", [(f'sum by (instance) (rate(argus_events_published_total{{{NODE}}}[{RI}]))', "{{instance}}")], unit="ops"),
    q("Events dropped per exporter", [(f'sum by (exporter) (rate(argus_events_dropped_total{{{NODE}}}[{RI}]))', "{{exporter}}")], unit="ops",
      thresholds=[(0.001, "red")]),
    q("Ring occupancy per exporter (events not yet consumed)",
      [(f'argus_exporter_lag_events{{{NODE}}} / on(instance) group_left argus_event_ring_capacity_events{{{NODE}}}', "{{exporter}}")],
      unit="percentunit", thresholds=[(0.5, "orange"), (0.9, "red")]),
)

row("Log sinks")
line(
    q("Log records per second by outcome", [(f'sum by (sink, outcome) (rate(argus_log_records_total{{{NODE}}}[{RI}]))', "{{sink}} {{outcome}}")], unit="ops"),
    q("Queued and spooled", [(f'sum by (sink, destination) (argus_log_queue_records{{{NODE}}})', "{{destination}} queued"),
                             (f'sum by (sink, destination) (argus_log_spool_records{{{NODE}}})', "{{destination}} spooled")], unit="short"),
    q("Oldest undelivered record", [(f'max by (sink, destination) (argus_log_oldest_unsent_seconds{{{NODE}}})', "{{destination}}")], unit="s",
      thresholds=[(60, "orange"), (300, "red")]),
)
line(
    q("Spool size", [(f'sum by (destination) (argus_log_spool_bytes{{{NODE}}})', "{{destination}}")], unit="bytes"),
    q("Log batches failed per second", [(f'sum by (destination) (rate(argus_log_batches_failed_total{{{NODE}}}[{RI}]))', "{{destination}}")], unit="ops"),
    q("Mean log send latency", [(f'sum by (destination) (rate(argus_log_send_seconds_total{{{NODE}}}[{RI}])) / '
                                 f'sum by (destination) (rate(argus_log_sends_total{{{NODE}}}[{RI}]))', "{{destination}}")], unit="s"),
)

row("Process")
line(
    q("Resident memory", [(f'process_resident_memory_bytes{{{NODE}}}', "{{instance}}")], unit="bytes"),
    q("CPU", [(f'rate(process_cpu_seconds_total{{{NODE}}}[{RI}])', "{{instance}}")], unit="percentunit"),
    q("Open file descriptors (share of the limit)", [(f'process_open_fds{{{NODE}}} / process_max_fds{{{NODE}}}', "{{instance}}")], unit="percentunit",
      thresholds=[(0.8, "red")]),
)
line(
    q("Client connections by state", [(f'sum by (state) (kong_nginx_connections_total{{state=~"active|reading|writing|waiting",{NODE}}})', "{{state}}")]),
    q("Connections accepted per second", [(f'sum by (instance) (rate(kong_nginx_connections_total{{state="accepted",{NODE}}}[{RI}]))', "{{instance}}")], unit="ops"),
    q("Exporter lag (events)", [(f'argus_exporter_lag_events{{{NODE}}}', "{{instance}} {{exporter}}")]),
)


def variable(name, query, label):
    return {"name": name, "label": label, "type": "query", "datasource": DS, "query": {"query": query, "refId": name},
            "definition": query, "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"selected": True, "text": "All", "value": "$__all"}, "sort": 1}


dashboard = {
    "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "", "type": "datasource",
                  "pluginId": "prometheus", "pluginName": "Prometheus"}],
    "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
                   {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
                   {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""}],
    "title": "Argus overview", "uid": "argus-overview", "tags": ["argus", "api-gateway"], "timezone": "browser",
    "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1, "refresh": "30s",
    "time": {"from": "now-1h", "to": "now"},
    "templating": {"list": [
        variable("instance", "label_values(kong_nginx_connections_total, instance)", "Node"),
        variable("service", 'label_values(kong_http_requests_total{instance=~"$instance"}, service)', "Service"),
        variable("route", 'label_values(kong_http_requests_total{instance=~"$instance",service=~"$service"}, route)', "Route"),
    ]},
    "annotations": {"list": []},
    "panels": panels,
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "argus-overview.json")
with open(out, "w") as f:
    json.dump(dashboard, f, indent=2)
    f.write("\n")
print(f"wrote {out}: {sum(1 for p in panels if p['type'] != 'row')} panels")
