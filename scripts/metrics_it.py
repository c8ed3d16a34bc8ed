#!/usr/bin/env python3
"""End-to-end check of /metrics with a real Prometheus server (Debian's `prometheus` package).

Starts a backend, Argus (the binary given as argv[1]) and Prometheus on free loopback ports,
sends a known mix of requests through Argus, then asserts:
  * the exposition: Content-Type, `promtool check metrics` (no parse error; Kong's `_ms` names
    draw lint warnings, exit 3, which is fine) and scripts/check_exposition.py;
  * through Prometheus's query API: both targets (admin and status listener) up with no scrape
    error, request counts by code/source/service/route equal to what was sent, histogram counts,
    bandwidth, upstream target health, no dropped events, every expected family present;
  * Kong's official Grafana dashboard (Tests/Fixtures/kong-official-dashboard.json, grafana.com
    7424): every panel query parses and returns data;
  * OpenMetrics: what Prometheus is served by default (its Accept header), parsed by
    prometheus_client's strict OpenMetrics parser, with the trace ids of an `opentelemetry`
    route's sampled requests as exemplars on the latency buckets, stored by Prometheus
    (`--enable-feature=exemplar-storage`) and returned by its exemplar query API.
Every process is stopped by PID at the end. Prints "N passed, 0 failed" or exits 1.
"""
import gzip
import http.client
import http.server
import re
import threading
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/debug/argus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, free_port, wait_for  # noqa: E402

TALLY = Tally()
check = TALLY.check



def get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def main():
    work = tempfile.mkdtemp(prefix="argus-metrics-it-")
    processes = []

    def start(args, log):
        p = subprocess.Popen(args, stdout=open(os.path.join(work, log), "w"), stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        processes.append(p)
        return p

    try:
        backend, dead = free_port(), free_port()
        # an OTLP collector that takes every batch (the bytes kept: a trace id is in them as 16 bytes)
        collected = []

        class Collector(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                collected.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
        threading.Thread(target=collector.serve_forever, daemon=True).start()
        proxy, admin, status, prom = free_port(), free_port(), free_port(), free_port()
        os.makedirs(os.path.join(work, "www"))
        open(os.path.join(work, "www", "index.html"), "w").write("hello\n")
        start([sys.executable, "-m", "http.server", str(backend), "--bind", "127.0.0.1",
               "--directory", os.path.join(work, "www")], "backend.log")
        config = os.path.join(work, "kong.yml")
        open(config, "w").write(f"""_format_version: "3.0"
services:
  - name: web
    url: http://127.0.0.1:{backend}
    routes:
      - {{name: home, paths: ["/home"]}}
      - {{name: files, paths: ["/files"], strip_path: false}}
      - {{name: limited, paths: ["/limited"]}}
      - {{name: shared, paths: ["/shared"]}}
      - {{name: keyed, paths: ["/keyed"]}}
  - name: gone
    url: http://127.0.0.1:{dead}
    retries: 0
    routes: [{{name: dead, paths: ["/dead"]}}]
  - name: balanced
    host: pool
    routes: [{{name: lb, paths: ["/lb"]}}]
  - name: flaky
    host: flakypool
    retries: 1
    routes: [{{name: flaky, paths: ["/flaky"]}}]
consumers:
  - username: alice
    keyauth_credentials: [{{key: alice-key}}]
upstreams:
  - name: pool
    targets: [{{target: "127.0.0.1:{backend}"}}]
  - name: flakypool
    healthchecks: {{passive: {{unhealthy: {{tcp_failures: 1}}}}}}
    targets: [{{target: "127.0.0.1:{backend}"}}, {{target: "127.0.0.1:{dead}"}}]
plugins:
  - name: prometheus
    config: {{status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true, upstream_health_metrics: true, per_consumer: true}}
  - name: file-log
    config: {{path: {work}/access.log}}
  - name: http-log
    config: {{http_endpoint: "http://127.0.0.1:{dead}/logs", queue: {{initial_retry_delay: 0.2, max_retry_delay: 1}}}}
  - name: opentelemetry
    route: home
    config: {{traces_endpoint: "http://127.0.0.1:{collector.server_port}/v1/traces", sampling_rate: 1, queue: {{max_coalescing_delay: 0.1}}}}
  - name: rate-limiting
    route: limited
    instance_name: limited-day
    config: {{day: 5, limit_by: ip}}
  - name: key-auth
    route: keyed
  - name: proxy-cache
    route: files
    config: {{response_code: [404], content_type: ["text/html; charset=utf-8"]}}
  - name: rate-limiting
    route: keyed
    config: {{day: 3, limit_by: consumer}}
  - name: rate-limiting
    route: shared
    instance_name: shared-redis
    config: {{minute: 1000, policy: redis, redis: {{host: 127.0.0.1, port: {dead}, timeout: 200}}}}
""")
        start([ARGUS, "start", "--config", config, "--proxy-listen", f"127.0.0.1:{proxy}",
               "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}",
               "--data-dir", os.path.join(work, "data"), "--workers", "2"], "argus.log")
        if not wait_for(lambda: get(f"http://127.0.0.1:{status}/status/ready")[0] == 200, 30, "argus ready"):
            check(False, "argus started")
            return

        # Traffic: (path, count, expected code, expected source label).
        plan = [("/home", 120, 200, "service"), ("/files/missing", 30, 404, "service"), ("/nowhere", 25, 404, "kong"),
                ("/dead", 15, 502, "kong"), ("/lb", 10, 200, "service"),
                # rate limited: 5 a day pass, the rest is answered 429 by the gateway;
                # a redis policy whose Redis is down: served (fault tolerant), each a store error.
                ("/limited", 5, 200, "service"), ("/limited", 15, 429, "kong"), ("/shared", 10, 200, "service"),
                # key-auth: no key is 401; alice's key passes 3 times a day, then her own 429s.
                # an upstream with a dead target: passive checks take it out, retries hide it.
                ("/flaky", 10, 200, "service"),
                ("/keyed", 10, 401, "kong"), ("/keyed?apikey=alice-key", 3, 200, "service"), ("/keyed?apikey=alice-key", 2, 429, "kong")]
        for path, count, code, _ in plan:
            conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
            for _ in range(count):
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                check(response.status == code, f"GET {path} -> {response.status}, expected {code}")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
            conn.close()
        sent = sum(count for _, count, _, _ in plan)

        # The exposition itself.
        st, headers, body = get(f"http://127.0.0.1:{admin}/metrics")
        check(st == 200, "GET /metrics is 200")
        check(headers.get("Content-Type") == "text/plain; version=0.0.4; charset=utf-8", f"content type {headers.get('Content-Type')}")
        promtool = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        check(promtool.returncode in (0, 3), f"promtool check metrics rc={promtool.returncode}: {promtool.stderr.decode()[:500]}")
        checker = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check_exposition.py")], input=body, capture_output=True)
        check(checker.returncode == 0, f"check_exposition: {checker.stdout.decode()[:500]}")
        st, headers, zipped = get(f"http://127.0.0.1:{status}/metrics", {"Accept-Encoding": "gzip"})
        check(headers.get("Content-Encoding") == "gzip" and gzip.decompress(zipped).startswith(b"# HELP"), "gzip on request")

        # A real Prometheus scraping both listeners every second.
        prom_config = os.path.join(work, "prometheus.yml")
        rules_dir = os.path.join(work, "rules")
        shutil.copytree(os.path.join(ROOT, "prometheus", "rules"), rules_dir)
        open(prom_config, "w").write(f"""global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}
rule_files: ["{rules_dir}/*.yml"]
scrape_configs:
  - job_name: argus-admin
    static_configs: [{{targets: ["127.0.0.1:{admin}"]}}]
  - job_name: argus-status
    static_configs: [{{targets: ["127.0.0.1:{status}"]}}]
""")
        start(["prometheus", f"--config.file={prom_config}", f"--web.listen-address=127.0.0.1:{prom}", "--enable-feature=exemplar-storage",
               f"--storage.tsdb.path={os.path.join(work, 'tsdb')}", "--storage.tsdb.retention.time=1h"], "prometheus.log")
        api = f"http://127.0.0.1:{prom}/api/v1"

        def query(expr):
            url = f"{api}/query?" + urllib.parse.urlencode({"query": expr})
            data = json.loads(get(url)[2])
            if data.get("status") != "success":
                raise RuntimeError(f"{expr}: {data}")
            return data["data"]["result"]

        def scalar(expr):
            result = query(expr)
            return float(result[0]["value"][1]) if result else None

        def targets_up():
            targets = json.loads(get(f"{api}/targets")[2])["data"]["activeTargets"]
            return len(targets) == 2 and all(t["health"] == "up" and t["lastError"] == "" for t in targets)

        check(wait_for(lambda: get(f"http://127.0.0.1:{prom}/-/ready")[0] == 200, 30, "prometheus ready"), "prometheus ready")
        check(wait_for(targets_up, 30, "both targets up"), "both targets up with no scrape error")
        for job in ("argus-admin", "argus-status"):
            check(wait_for(lambda: scalar(f'sum(kong_http_requests_total{{job="{job}"}})') == sent, 30, f"{job} count"),
                  f"{job}: sum(kong_http_requests_total) == {sent}")
        # A second wave while Prometheus is scraping, so that rate() and histogram_quantile() see increases.
        conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
        for _ in range(50):
            conn.request("GET", "/home")
            conn.getresponse().read()
        conn.close()
        plan[0] = ("/home", 170, 200, "service")
        sent += 50
        check(wait_for(lambda: scalar('sum(kong_http_requests_total{job="argus-admin"})') == sent, 30, "second wave"),
              f"second wave counted: {sent}")
        time.sleep(2)

        job = '{job="argus-admin"}'
        by_code = {(r["metric"]["code"], r["metric"]["source"]): float(r["value"][1])
                   for r in query(f"sum by (code, source) (kong_http_requests_total{job})")}
        expected = {}
        for _, count, code, source in plan:
            expected[(str(code), source)] = expected.get((str(code), source), 0) + count
        check(by_code == expected, f"by code/source {by_code} == {expected}")
        by_route = {(r["metric"].get("service", ""), r["metric"].get("route", "")): float(r["value"][1])
                    for r in query(f"sum by (service, route) (kong_http_requests_total{job})")}
        check(by_route == {("web", "home"): 170, ("web", "files"): 30, ("", ""): 25, ("gone", "dead"): 15, ("balanced", "lb"): 10,
                           ("web", "limited"): 20, ("web", "shared"): 10, ("web", "keyed"): 15, ("flaky", "flaky"): 10},
              f"by service/route {by_route}")
        rejected = {(r["metric"].get("route"), r["metric"].get("plugin"), r["metric"].get("limit_by"), r["metric"].get("period")):
                    float(r["value"][1]) for r in query(f"argus_ratelimit_rejections_total{job}")}
        check({k: v for k, v in rejected.items() if k[0] == "limited"} == {("limited", "limited-day", "ip", "day"): 15},
              f"rate-limit rejections {rejected}")
        check(sum(v for k, v in rejected.items() if k[0] == "keyed" and k[2] == "consumer") == 2, f"alice's own limit {rejected}")
        store_errors = scalar(f'sum(argus_ratelimit_store_errors_total{{job="argus-admin",plugin="shared-redis"}})')
        check(store_errors == 10, f"rate-limit store errors {store_errors}")
        check(scalar(f"sum(kong_kong_latency_ms_count{job})") == sent, "kong latency count")
        check(scalar(f"sum(kong_request_latency_ms_count{job})") == sent, "request latency count")
        # proxied requests only: the 29 of 30 /files/missing answered by proxy-cache never reached the upstream
        check(scalar(f"sum(kong_upstream_latency_ms_count{job})") == 238 - 29, "upstream latency count: proxied requests only")
        cache = {r["metric"]["cache_status"]: float(r["value"][1])
                 for r in query(f'argus_proxy_cache_requests_total{{job="argus-admin",route="files"}}')}
        check(cache == {"miss": 1.0, "hit": 29.0}, f"proxy-cache outcomes on /files {cache}")
        flaky = {(r["metric"]["target"], r["metric"]["state"]) for r in query('kong_upstream_target_health{job="argus-admin",upstream="flakypool"} == 1')}
        check(flaky == {(f"127.0.0.1:{backend}", "healthy"), (f"127.0.0.1:{dead}", "unhealthy")}, f"flaky pool health {flaky}")
        by_consumer = {r["metric"].get("code"): float(r["value"][1])
                       for r in query('sum by (code) (kong_http_requests_total{job="argus-admin",consumer="alice"})')}
        check(by_consumer == {"200": 3, "429": 2}, f"alice's requests by code {by_consumer}")
        refused = {(r["metric"].get("plugin"), r["metric"].get("reason")): float(r["value"][1])
                   for r in query(f"argus_access_rejections_total{job}")}
        check(refused == {("key-auth", "no_key"): 10}, f"access rejections {refused}")
        check(scalar(f'sum(kong_kong_latency_ms_bucket{{job="argus-admin",le="+Inf"}})') == sent, "+Inf bucket == count")
        p99 = scalar('histogram_quantile(0.99, sum by (le) (rate(kong_request_latency_ms_bucket{job="argus-admin"}[1m])))')
        check(p99 is not None and p99 > 0, f"p99 request latency {p99}")
        check((scalar(f'sum(kong_bandwidth_bytes{{job="argus-admin",direction="ingress"}})') or 0) > 0, "ingress bandwidth")
        check((scalar(f'sum(kong_bandwidth_bytes{{job="argus-admin",direction="egress"}})') or 0) > 0, "egress bandwidth")
        health = query('kong_upstream_target_health{job="argus-admin",upstream="pool"}')
        states = {r["metric"]["state"]: float(r["value"][1]) for r in health}
        check(states == {"healthchecks_off": 1, "healthy": 0, "unhealthy": 0, "dns_error": 0}, f"target health {states}")
        check(scalar('sum(argus_events_dropped_total{job="argus-admin"})') == 0, "no dropped events")
        check(scalar('argus_events_published_total{job="argus-admin"}') == sent, "events published == requests")
        accepted = scalar('kong_nginx_connections_total{job="argus-admin",state="accepted"}')
        check(accepted is not None and accepted >= len(plan), f"accepted connections {accepted}")
        names = set(json.loads(get(f"{api}/label/__name__/values")[2])["data"])
        for family in ["kong_http_requests_total", "kong_kong_latency_ms_bucket", "kong_upstream_latency_ms_bucket",
                       "kong_request_latency_ms_bucket", "kong_bandwidth_bytes", "kong_upstream_target_health",
                       "kong_nginx_connections_total", "kong_nginx_requests_total", "kong_datastore_reachable", "kong_node_info",
                       "kong_nginx_metric_errors_total", "argus_ratelimit_rejections_total", "argus_ratelimit_store_errors_total",
                       "kong_memory_lua_shared_dict_bytes", "kong_memory_workers_lua_vms_bytes",
                       "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds",
                       "argus_events_published_total", "argus_events_dropped_total", "argus_exporter_lag_events"]:
            check(family in names, f"family {family} in Prometheus")

        # OpenMetrics with trace exemplars: the /home route's requests are traced (sampling_rate 1).
        st, headers, body = get(f"http://127.0.0.1:{status}/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
        check(headers.get("Content-Type") == "application/openmetrics-text; version=1.0.0; charset=utf-8", f"OpenMetrics content type {headers.get('Content-Type')}")
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        try:
            families = list(text_string_to_metric_families(body.decode()))
        except Exception as error:
            families = []
            check(False, f"the strict OpenMetrics parser: {error}")
        exemplars = [(f.name, smp.labels, smp.exemplar) for f in families for smp in f.samples if smp.exemplar]
        home = [e for e in exemplars if e[1].get("route") == "home"]
        check(len(families) > 40 and home, f"OpenMetrics parsed ({len(families)} families), exemplars on /home's buckets ({len(home)})")
        check(not [e for e in exemplars if e[1].get("route") != "home"], "exemplars only where a request was traced")
        check(all(re.fullmatch(r"[0-9a-f]{32}", e[2].labels.get("trace_id", "")) and e[2].value <= float(e[1]["le"]) for e in home),
              "each exemplar: a trace id, a value within its bucket")
        check(wait_for(lambda: any(bytes.fromhex(home[0][2].labels["trace_id"]) in b for b in collected), 10),
              "the exemplar's trace was exported to the collector")
        now = time.time()

        def stored_exemplars():
            url = f"{api}/query_exemplars?" + urllib.parse.urlencode(
                {"query": 'kong_request_latency_ms_bucket{job="argus-status",route="home"}', "start": now - 600, "end": now + 60})
            data = json.loads(get(url)[2])["data"]
            return [x["labels"]["trace_id"] for series in data for x in series["exemplars"]]
        check(wait_for(lambda: len(stored_exemplars()) > 0, 15), "Prometheus stored the exemplars (exemplar-storage)")
        stored = stored_exemplars()
        check(all(re.fullmatch(r"[0-9a-f]{32}", t) for t in stored), f"stored exemplars are trace ids {stored[:3]}")

        # The dashboards: Kong's official one unchanged, and ours. Every panel query parses and
        # executes; every one returns data except the ones whose families come with later work.
        not_yet = {
            "Events dropped per exporter": "no exporter falls behind here",
        }

        def panels(items):
            for p in items:
                yield p
                yield from panels(p.get("panels", []))

        def substitute(expr):
            for variable in ("$instance", "$service", "$route", "$upstream"):
                expr = expr.replace(variable, ".*")
            return expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")

        for name in ("Tests/Fixtures/kong-official-dashboard.json", "dashboards/argus-overview.json"):
            dashboard = json.load(open(os.path.join(ROOT, name)))
            every = list(panels(dashboard["panels"]))
            check(len({p["id"] for p in every}) == len(every), f"{name}: panel ids are unique")
            count = 0
            for p in every:
                targets = [t for t in p.get("targets", []) if t.get("expr")]
                for t in targets:
                    count += 1
                    check(bool(t.get("refId")), f"{name}: {p.get('title')}: a target without refId")
                    try:
                        result = query(substitute(t["expr"]))
                        if p.get("title") not in not_yet:
                            check(len(result) > 0, f"{name}: {p.get('title')}: no data for {t['expr'][:100]}")
                    except Exception as error:
                        check(False, f"{name}: {p.get('title')}: {error}")
            check(count >= 40, f"{name}: {count} panel queries")
            for variable in dashboard["templating"]["list"]:
                q = variable.get("query")
                q = q.get("query") if isinstance(q, dict) else q
                if isinstance(q, str) and q.startswith("label_values("):
                    inner = q[len("label_values("):-1]
                    metric, label = [x.strip() for x in inner.rsplit(",", 1)]
                    values = json.loads(get(f"{api}/label/{label}/values?" + urllib.parse.urlencode({"match[]": substitute(metric)}))[2])["data"]
                    check(len(values) > 0, f"{name}: variable {variable['name']}: {q} has values")
            if name.startswith("dashboards/"):
                occupied = set()
                for p in every:
                    g = p["gridPos"]
                    check(g["x"] >= 0 and g["x"] + g["w"] <= 24, f"{name}: {p.get('title')} fits 24 columns")
                    cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
                    check(not (cells & occupied), f"{name}: {p.get('title')} overlaps another panel")
                    occupied |= cells
                    if p["type"] != "row":
                        check(p["datasource"]["uid"] == "${DS_PROMETHEUS}", f"{name}: {p.get('title')} uses the DS_PROMETHEUS input")

        # The shipped rules: loaded, healthy, and every expression executes.
        groups = json.loads(get(f"{api}/rules")[2])["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        check(len(rules) >= 20, f"{len(rules)} rules loaded")
        for r in rules:
            check(r.get("health") in ("ok", "unknown"), f"rule {r.get('name')}: {r.get('health')} {r.get('lastError', '')}")
            try:
                query(r["query"])
            except Exception as error:
                check(False, f"rule {r.get('name')}: {error}")
        check(wait_for(lambda: len(query("argus:http_requests:rate1m")) > 0, 20, "recording rules"), "recording rules produce series")
    finally:
        for p in reversed(processes):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        if TALLY.failed:
            for log in ("argus.log", "prometheus.log"):
                path = os.path.join(work, log)
                if os.path.exists(path):
                    print(f"--- {log} (tail)")
                    print("".join(open(path).readlines()[-20:]))
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
