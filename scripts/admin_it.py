#!/usr/bin/env python3
"""The Admin API end to end, driven by curl as Kong's users drive it.

Argus (argv[1]) runs without --config, on its embedded SQLite database. The curl commands of
Kong's getting-started guide and of the seeds' tutorials run verbatim (only the admin address is
rewritten) and their effect is checked on the proxy: a service with `url`, a route with
`paths[]=`, rate-limiting with `config.minute=5`, a consumer with key-auth, an upstream with
targets and health checks, a blue-green weight shift, DELETE and then 404 on the proxy. Then:
Kong's error bodies for invalid input of every entity (with nothing half-written), pagination,
concurrent writers, persistence across a restart, the GET /config round trip into a DB-less
Argus, DB-less 405s and POST /config (multipart, check_hash), the admin token, the body limit,
and secrets kept out of the log. Prints "N passed, M failed".
"""
import concurrent.futures
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Echo, Tally, finish, free_port, wait_for  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check


def backend(port):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def http_call(method, url, body=None, headers=None, timeout=10):
    """(status, parsed JSON body or text, headers) without raising on 4xx/5xx."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status, h = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, h = e.read(), e.code, e.headers
    try:
        return status, json.loads(raw) if raw else None, h
    except ValueError:
        return status, raw.decode(errors="replace"), h


class Argus:
    def __init__(self, work, name, extra=(), data=None):
        self.proxy, self.admin_port, self.status = free_port(), free_port(), free_port()
        self.log = f"{work}/{name}.log"
        self.data = data or f"{work}/{name}-data"
        self.args = [ARGUS, "start", "--proxy-listen", f"127.0.0.1:{self.proxy}",
                     "--admin-listen", f"127.0.0.1:{self.admin_port}", "--status-listen", f"127.0.0.1:{self.status}",
                     "--data-dir", self.data, "--workers", "2", *extra]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        ok = wait_for(lambda: http_call("GET", f"http://127.0.0.1:{self.status}/status/ready")[0] == 200, 30, "argus ready")
        return ok

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)

    @property
    def admin(self):
        return f"http://127.0.0.1:{self.admin_port}"

    def get(self, path, **kw):
        return http_call("GET", self.admin + path, **kw)

    def send(self, method, path, form=None, js=None, headers=None):
        if js is not None:
            return http_call(method, self.admin + path, json.dumps(js), {"Content-Type": "application/json", **(headers or {})})
        body = urllib.parse.urlencode(form or {}, doseq=True)
        return http_call(method, self.admin + path, body, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def proxy_get(self, path, headers=None):
        return http_call("GET", f"http://127.0.0.1:{self.proxy}{path}", headers=headers)

    def all(self, path):
        """Every entity of a collection, following `next`."""
        items, url = [], path
        while url:
            status, body, _ = self.get(url)
            if status != 200:
                return None
            items += body["data"]
            url = body["next"]
        return items


def away_from_minute_edge():
    """Rate limits count calendar minutes: a check that must see one window waits out the last
    and first seconds of a minute."""
    while not 2 <= time.gmtime().tm_sec <= 50:
        time.sleep(0.5)


def run_curl(argus, script):
    """Runs shell text with curl commands as written in the tutorials; only the admin address
    (localhost:8001, kong:8001, <admin-hostname>:8001) is rewritten. Returns [(http_code, body)]."""
    text = re.sub(r"http://(localhost|kong|<admin-hostname>):8001", argus.admin, script)
    out = tempfile.mktemp()
    wrapper = ('curl() { command curl -sS -o "$OUT.body" -w "%{http_code}\\n" "$@" >> "$OUT"; '
               'cat "$OUT.body" >> "$OUT.bodies"; printf "\\n--end--\\n" >> "$OUT.bodies"; }\n')
    subprocess.run(["bash", "-c", wrapper + text], env={**os.environ, "OUT": out}, check=False)
    codes = open(out).read().split() if os.path.exists(out) else []
    bodies = open(out + ".bodies").read().split("\n--end--\n") if os.path.exists(out + ".bodies") else []
    # `curl -i` puts the response head before the body
    bodies = [b.split("\n\n", 1)[-1].strip() if b.startswith("HTTP/") else b.strip() for b in bodies]
    for f in (out, out + ".body", out + ".bodies"):
        if os.path.exists(f):
            os.remove(f)
    return list(zip([int(c) for c in codes], bodies))


def getting_started(a, b1):
    # Kong's getting-started guide (services and routes, rate limiting, key authentication)
    results = run_curl(a, f"""
curl -i -X POST http://localhost:8001/services \\
  --data name=example_service \\
  --data url='http://127.0.0.1:{b1}'
curl -i -X POST http://localhost:8001/services/example_service/routes \\
  --data 'paths[]=/mock' \\
  --data name=example_route
""")
    check([c for c, _ in results] == [201, 201], f"getting started: service and route created: {results}")
    status, body, _ = a.proxy_get("/mock/anything")
    check(status == 200 and body["path"] == "/anything", f"proxy through the new route: {status} {body}")
    check(a.get("/services/example_service/routes/example_route")[0] == 200, "nested route by name")
    check(a.get("/routes/example_route/service")[1]["name"] == "example_service", "route's service")

    away_from_minute_edge()
    results = run_curl(a, """
curl -i -X POST http://localhost:8001/services/example_service/plugins \\
  --data "name=rate-limiting" \\
  --data "config.minute=5" \\
  --data "config.policy=local"
""")
    check(results and results[0][0] == 201, f"rate-limiting created: {results}")
    plugin = json.loads(results[0][1]) if results else {}
    check(plugin.get("config", {}).get("minute") == 5, "config.minute is the number 5")
    codes = [a.proxy_get("/mock/anything")[0] for _ in range(7)]
    check(codes.count(429) >= 1 and codes[0] == 200, f"the sixth request in a minute is limited: {codes}")
    check(a.send("DELETE", f"/plugins/{plugin.get('id')}")[0] == 204, "rate-limiting deleted")
    check(wait_for(lambda: a.proxy_get("/mock/anything")[0] == 200, 5), "no limit once the plugin is gone")

    results = run_curl(a, """
curl -i -X POST http://localhost:8001/routes/example_route/plugins \\
  --data name=key-auth
curl -i -X POST http://localhost:8001/consumers/ \\
  --data username=luka
curl -i -X POST http://localhost:8001/consumers/luka/key-auth \\
  --data key=top-secret-key
""")
    check([c for c, _ in results] == [201, 201, 201], f"key-auth, consumer, key: {results}")
    check(a.proxy_get("/mock/anything")[0] == 401, "no key: 401")
    status, body, _ = a.proxy_get("/mock/anything", {"apikey": "top-secret-key"})
    check(status == 200 and body["headers"].get("x-consumer-username") == "luka", f"with the key: 200 as luka ({status})")
    check(a.get("/key-auths")[1]["data"][0]["key"] == "top-secret-key", "flat /key-auths")
    key_plugin = a.get("/routes/example_route/plugins")[1]["data"][0]["id"]
    check(a.send("DELETE", f"/plugins/{key_plugin}")[0] == 204, "key-auth removed")


def upstream_flows(a, b1, b2):
    # seed 004: an upstream with two targets behind the service
    results = run_curl(a, f"""
curl -X POST http://<admin-hostname>:8001/upstreams \\
  --data name=example_upstream
curl -X PATCH http://<admin-hostname>:8001/services/example_service \\
  --data host='example_upstream'
curl -X POST http://<admin-hostname>:8001/upstreams/example_upstream/targets \\
  --data target='127.0.0.1:{b1}'
curl -X POST http://<admin-hostname>:8001/upstreams/example_upstream/targets \\
  --data target='127.0.0.1:{b2}'
""")
    check([c for c, _ in results] == [201, 200, 201, 201], f"seed 004 upstream flow: {results}")
    ports = {a.proxy_get("/mock/x")[1]["port"] for _ in range(20)}
    check(ports == {b1, b2}, f"both targets get traffic: {ports}")
    status, body, _ = a.get("/upstreams/example_upstream/health?balancer_health=1")
    check(status == 200 and body["data"]["balancer_health"] == "HEALTHY", f"balancer health: {status} {body}")
    results = run_curl(a, """
curl -X PATCH http://kong:8001/upstreams/example_upstream \\
--data "healthchecks.passive.healthy.successes=2" \\
--data "healthchecks.passive.unhealthy.http_failures=2"
""")
    hc = a.get("/upstreams/example_upstream")[1]["healthchecks"]
    check(results and results[0][0] == 200 and hc["passive"]["unhealthy"]["http_failures"] == 2
          and hc["passive"]["healthy"]["successes"] == 2 and hc["active"]["http_path"] == "/",
          f"PATCH healthchecks merges into the defaults: {results}")
    # blue-green: all weight to b2, at once
    t1 = f"127.0.0.1:{b1}"
    check(a.send("PATCH", f"/upstreams/example_upstream/targets/{t1}", {"weight": "0"})[0] == 200, "weight 0 on target 1")
    ports = {a.proxy_get("/mock/x")[1]["port"] for _ in range(20)}
    check(ports == {b2}, f"weights shifted at once: {ports}")
    check(a.send("PATCH", f"/upstreams/example_upstream/targets/{t1}", {"weight": "100"})[0] == 200, "weight back")
    targets = a.get("/upstreams/example_upstream/targets/all")[1]["data"]
    check(len(targets) == 2 and all(t["weight"] == 100 for t in targets), f"targets/all: {targets}")

    # seed 002, verbatim: upstreams, targets, algorithms, health checks, blue-green
    results = run_curl(a, """
curl -X POST http://kong:8001/upstreams \\
--data "name=my-upstream-service"
curl -X POST http://kong:8001/upstreams/my-upstream-service/targets \\
--data "target=192.168.1.1:8000" \\
--data "weight=100"
curl -X POST http://kong:8001/upstreams/my-upstream-service/targets \\
--data "target=192.168.1.2:8000" \\
--data "weight=100"
curl -X POST http://kong:8001/upstreams/my-upstream-service/targets \\
--data "target=192.168.1.3:8000" \\
--data "weight=100"
curl -X PATCH http://kong:8001/upstreams/my-upstream-service \\
--data "algorithm=round-robin"
curl -X PATCH http://kong:8001/upstreams/my-upstream-service \\
--data "algorithm=consistent-hashing" \\
--data "hash_on=ip"
curl -X PATCH http://kong:8001/upstreams/my-upstream-service \\
--data "algorithm=least-connections"
curl -X PATCH http://kong:8001/upstreams/my-upstream-service \\
--data "healthchecks.active.http_path=/health" \\
--data "healthchecks.active.healthy.interval=5" \\
--data "healthchecks.active.healthy.successes=2" \\
--data "healthchecks.active.unhealthy.interval=5" \\
--data "healthchecks.active.unhealthy.http_failures=2"
curl -X POST http://kong:8001/upstreams \\
--data "name=user-service" \\
--data "algorithm=round-robin" \\
--data "healthchecks.active.http_path=/health" \\
--data "healthchecks.active.healthy.interval=5" \\
--data "healthchecks.active.healthy.successes=2" \\
--data "healthchecks.active.unhealthy.interval=5" \\
--data "healthchecks.active.unhealthy.http_failures=2"
curl -X POST http://kong:8001/services \\
--data "name=user-api" \\
--data "host=user-service" \\
--data "connect_timeout=1000" \\
--data "read_timeout=10000" \\
--data "write_timeout=10000" \\
--data "retries=5"
curl -X POST http://kong:8001/services/user-api/routes \\
--data "paths[]=/api/users" \\
--data "strip_path=false"
curl -X POST http://kong:8001/upstreams/my-service/targets \\
--data "target=blue-1:8000" \\
--data "weight=100"
""")
    codes = [c for c, _ in results]
    check(codes == [201, 201, 201, 201, 200, 200, 200, 200, 201, 201, 201, 404], f"seed 002 commands: {codes}")
    up = a.get("/upstreams/my-upstream-service")[1]
    check(up["algorithm"] == "least-connections" and up["healthchecks"]["active"]["unhealthy"]["http_failures"] == 2
          and up["healthchecks"]["active"]["http_path"] == "/health", f"seed 002 upstream state: {up}")
    check(a.get("/routes")[1]["data"] and any(r["strip_path"] is False for r in a.get("/routes")[1]["data"]),
          "strip_path=false read as a boolean")
    results = run_curl(a, """
curl -X POST http://kong:8001/upstreams --data "name=my-service"
curl -X POST http://kong:8001/upstreams/my-service/targets \\
--data "target=blue-1:8000" \\
--data "weight=100"
curl -X POST http://kong:8001/upstreams/my-service/targets \\
--data "target=green-1:8000" \\
--data "weight=0"
curl -X PATCH http://kong:8001/upstreams/my-service/targets/green-1 \\
--data "weight=25"
curl -X PATCH http://kong:8001/upstreams/my-service/targets/blue-1 \\
--data "weight=75"
""")
    check([c for c, _ in results] == [201, 201, 201, 200, 200], f"blue-green by target name: {results}")
    weights = {t["target"]: t["weight"] for t in a.get("/upstreams/my-service/targets")[1]["data"]}
    check(weights == {"blue-1:8000": 75, "green-1:8000": 25}, f"blue-green weights: {weights}")


def seed_001_plugins(a, b1):
    results = run_curl(a, f"""
curl -X POST http://localhost:8001/services --data name=fastapi-service --data url=http://127.0.0.1:{b1}
curl -X POST http://localhost:8001/services/fastapi-service/routes --data 'paths[]=/fastapi'
curl -X POST http://localhost:8001/consumers --data username=test-user
""")
    check([c for c, _ in results] == [201, 201, 201], f"seed 001 setup: {results}")
    results = run_curl(a, """
    curl -X POST http://localhost:8001/services/fastapi-service/plugins \\
      --data "name=prometheus"
    curl -X POST http://localhost:8001/services/fastapi-service/plugins \\
      --data "name=http-log" \\
      --data "config.http_endpoint=http://logstash:8080"
    curl -X POST http://localhost:8001/services/fastapi-service/plugins \\
      --data "name=jwt"
    curl -X POST http://localhost:8001/consumers/test-user/jwt \\
      --data "key=your-key" \\
      --data "secret=your-secret"
    curl -X POST http://localhost:8001/services/fastapi-service/plugins \\
      --data "name=acl" \\
      --data "config.allow=192.168.1.0/24"
    curl -X POST http://localhost:8001/services/fastapi-service/plugins \\
      --data "name=cors" \\
      --data "config.origins=*" \\
      --data "config.methods=GET,POST,PUT,DELETE"
    curl -X POST http://localhost:8001/services/fastapi-service/plugins \\
      --data "name=request-transformer" \\
      --data "config.add.headers=X-Custom-Header:Value"
    curl -X POST http://localhost:8001/services/fastapi-service/plugins \\
      --data "name=proxy-cache" \\
      --data "config.content_type=application/json" \\
      --data "config.cache_ttl=300"
""")
    check([c for c, _ in results] == [201] * 8, f"seed 001 plugin commands: {[c for c, _ in results]}")
    by_name = {p["name"]: p for p in a.get("/services/fastapi-service/plugins")[1]["data"]}
    check(by_name.get("cors", {}).get("config", {}).get("methods") == ["GET", "POST", "PUT", "DELETE"],
          "cors config.methods=GET,POST,PUT,DELETE split into four")
    check(by_name.get("request-transformer", {}).get("config", {}).get("add", {}).get("headers") == ["X-Custom-Header:Value"],
          "request-transformer add.headers is an array")
    check(by_name.get("acl", {}).get("config", {}).get("allow") == ["192.168.1.0/24"], "acl allow is an array")
    cache = by_name.get("proxy-cache", {}).get("config", {})
    check(cache.get("strategy") == "memory" and cache.get("cache_ttl") == 300 and cache.get("content_type") == ["application/json"],
          f"proxy-cache from the seed's command: {cache}")
    jwt = a.get("/consumers/test-user/jwt")[1]["data"]
    check(len(jwt) == 1 and jwt[0]["algorithm"] == "HS256" and jwt[0]["secret"] == "your-secret", f"jwt secret: {jwt}")
    check(a.get("/jwts/your-key")[0] == 200 and a.get("/jwts/your-key/consumer")[1]["username"] == "test-user",
          "jwt by key and its consumer")
    # the plugins are live: jwt rejects a request without a token
    check(a.proxy_get("/fastapi")[0] == 401, "jwt enforced on the proxy")


SEED_004_KONG_YML = """\
_format_version: "1.1"
services:
- host: example_upstream
  name: example_service
  port: 80
  protocol: http
  routes:
  - name: mocking
    paths:
    - /mock
    strip_path: true
    plugins:
    - name: key-auth
      enabled: false
consumers:
- custom_id: consumer
  username: consumer
  keyauth_credentials:
  - key: apikey
upstreams:
- name: example_upstream
  targets:
    - target: httpbin.org:80
      weight: 100
    - target: mockbin.org:80
      weight: 100
plugins:
- name: rate-limiting
  config:
    minute: 5
    policy: local
- name: proxy-cache
  config:
    content_type:
    - "application/json; charset=utf-8"
    cache_ttl: 30
    strategy: memory
"""


class JSONCharset(Echo):
    def respond(self):
        body = json.dumps({"port": self.server.server_port, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = respond


def seed_004(work):
    """The kong.yml of seed 004 as written (format 1.1), its two internet targets pointed at local
    backends: the upstream balances, key-auth is disabled, 5 requests a minute, JSON cached."""
    ports = []
    for _ in range(2):
        port = free_port()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), JSONCharset)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ports.append(port)
    text = SEED_004_KONG_YML.replace("httpbin.org:80", f"127.0.0.1:{ports[0]}").replace("mockbin.org:80", f"127.0.0.1:{ports[1]}")
    open(f"{work}/seed004.yml", "w").write(text)
    valid = subprocess.run([ARGUS, "config", "validate", f"{work}/seed004.yml"], capture_output=True, text=True)
    check(valid.returncode == 0, f"seed 004 kong.yml validates: {valid.stdout}{valid.stderr}")
    g = Argus(work, "seed004", ["--config", f"{work}/seed004.yml"])
    if not check(g.start(), "argus runs seed 004's kong.yml"):
        return g
    away_from_minute_edge()
    results = [g.proxy_get(f"/mock/item{i % 2}") for i in range(7)]
    statuses = [r[0] for r in results]
    cache = [r[2].get("X-Cache-Status") for r in results]
    check(statuses == [200] * 5 + [429] * 2, f"seed 004: 5 a minute, then 429: {statuses}")
    check(cache[:5] == ["Miss", "Miss", "Hit", "Hit", "Hit"], f"seed 004: JSON responses cached: {cache}")
    check(results[0][2].get("X-RateLimit-Remaining-Minute") == "4", "seed 004: rate-limit headers")
    check({results[0][1]["port"], results[1][1]["port"]} <= set(ports), "seed 004: the upstream's targets answer")
    g.stop()
    return g


def invalid_input(a):
    before = json.dumps(a.get("/config")[1])
    cases = [
        ("POST", "/services", {"name": "no-host"}, 400, {"host": "required field missing"}),
        ("POST", "/services", {"name": "bad port", "host": "h", "port": "99999"}, 400, None),
        ("POST", "/routes", {"paths[]": "no-slash"}, 400, None),
        ("POST", "/routes", {"paths[]": "/x", "service.id": "5ca1ab1e-0000-4000-8000-000000000000"}, 400, None),
        ("POST", "/consumers", {"tags[]": "x"}, 400, None),
        ("POST", "/consumers", {"username": "luka"}, 409, None),
        ("POST", "/plugins", {"name": "rate-limiting", "config.minute": "-1"}, 400, None),
        ("POST", "/plugins", {"name": "no-such-plugin"}, 400, None),
        ("POST", "/upstreams", {"name": "has.port:80"}, 400, None),
        ("POST", "/upstreams/example_upstream/targets", {"target": "127.0.0.1:1", "weight": "70000"}, 400, None),
        ("POST", "/consumers/luka/key-auth", {"key": "top-secret-key"}, 409, None),
        ("POST", "/consumers/luka/acls", {}, 400, {"group": "required field missing"}),
        ("POST", "/consumers/luka/basic-auth", {"username": "u1"}, 400, {"password": "required field missing"}),
        ("POST", "/consumers/luka/jwt", {"algorithm": "RS256"}, 400, None),
        ("PATCH", "/services/example_service", {"retries": "not-a-number"}, 400, {"retries": "expected an integer"}),
        ("DELETE", "/services/example_service", {}, 400, None),
    ]
    for method, path, form, want, fields in cases:
        status, body, _ = a.send(method, path, form)
        ok = status == want and isinstance(body, dict) and "message" in body
        if want == 400 and status == 400:
            ok = ok and body.get("code") in (2, 4) and "fields" in body
        if fields:
            ok = ok and all(body.get("fields", {}).get(k) == v for k, v in fields.items())
        check(ok, f"{method} {path} {form}: want {want}, got {status} {body}")
    status, body, _ = a.send("POST", "/services", js={"name": "x", "host": "h", "port": 80, "unknown_field": 1})
    check(status == 400 and body["fields"].get("unknown_field") == "unknown field", f"unknown field: {body}")
    status, body, _ = http_call("POST", a.admin + "/services", "{not json", {"Content-Type": "application/json"})
    check(status == 400 and body == {"message": "Cannot parse JSON body"}, f"bad JSON: {status} {body}")
    check(a.get("/no-such-thing")[0] == 404 and a.get("/services/nope")[1] == {"message": "Not found"}, "404 bodies")
    check(a.send("POST", "/services/example_service")[0] == 405, "405 on an entity POST")
    check(json.dumps(a.get("/config")[1]) == before, "nothing half-written by the rejected requests")


def cors_and_content_types(a):
    """Kong's cors_filter and options_method (09-routes_routes_spec, 02-kong_routes_spec), and its
    before_filter's 415 (03-consumers_routes_spec)."""
    status, body, h = http_call("OPTIONS", a.admin + "/routes")
    check(status == 204 and not body and h.get("Allow") == "GET, HEAD, OPTIONS, POST"
          and h.get("Access-Control-Allow-Methods") == "GET, HEAD, OPTIONS, POST"
          and h.get("Access-Control-Allow-Headers") == "Content-Type" and h.get("Access-Control-Allow-Origin") == "*"
          and h.get("X-Kong-Admin-Latency") is not None, f"OPTIONS /routes: {status} {dict(h)}")
    status, _, h = http_call("OPTIONS", a.admin + "/", headers={"Access-Control-Request-Headers": "X-Custom"})
    check(status == 204 and h.get("Allow") == "GET, HEAD, OPTIONS" and h.get("Access-Control-Allow-Headers") == "X-Custom",
          f"OPTIONS /: {status} {dict(h)}")
    status, body, _ = http_call("OPTIONS", a.admin + "/non-existing")
    check(status == 404 and body == {"message": "Not found"}, f"OPTIONS on an unknown path: {status} {body}")
    status, _, h = http_call("GET", a.admin + "/services", headers={"Origin": "http://gui.example"})
    check(status == 200 and h.get("Access-Control-Allow-Origin") == "http://gui.example"
          and h.get("Access-Control-Allow-Credentials") == "true", f"CORS on a GET: {dict(h)}")
    status, body, h = http_call("POST", a.admin + "/consumers", "username=x", {"Content-Type": "invalid"})
    check(status == 415 and "415 Unsupported Media Type" in str(body), f"415 for another content type: {status}")
    status, _, _ = http_call("POST", a.admin + "/consumers", "username=x")
    check(status == 201, f"urllib's default form content type passes: {status}")


def pagination_and_concurrency(a):
    def make(i):
        return a.send("POST", "/consumers", {"username": f"user-{i:03d}", "tags[]": ["bulk", "odd" if i % 2 else "even"]})[0]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(make, range(120)))
    check(codes.count(201) == 120, f"120 concurrent creates all succeed: {set(codes)}")
    bulk = a.all("/consumers?tags=bulk&size=7")
    check(bulk is not None and len(bulk) == 120 and len({c["id"] for c in bulk}) == 120, "paged walk sees each consumer once")
    odd = a.all("/consumers?tags=bulk,odd&size=50")
    check(odd is not None and len(odd) == 60, f"tags AND filter: {len(odd or [])}")
    first = a.get("/consumers?size=10")[1]
    check(len(first["data"]) == 10 and first["next"].startswith("/consumers?offset=") and "offset" in first, "page 1 of size 10")
    check(a.get("/consumers?size=0")[0] == 400 and a.get("/consumers?offset=%%%")[0] == 400, "bad size and offset: 400")
    # concurrent updates of one entity: every one answered, the last value wins, nothing lost
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: a.send("PATCH", "/services/example_service", {"retries": str(i)})[0], range(40)))
    check(codes.count(200) == 40, f"40 concurrent PATCHes answered 200: {set(codes)}")
    check(a.get("/services/example_service")[1]["retries"] in range(40), "final retries is one of the written values")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: a.send("DELETE", f"/consumers/user-{i:03d}")[0], range(0, 120, 2)))
    check(codes.count(204) == 60 and len(a.all("/consumers?tags=bulk")) == 60, "60 concurrent deletes")


class LogSink(http.server.BaseHTTPRequestHandler):
    """An http-log endpoint keeping each POST's path and X-Log header."""
    seen = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        LogSink.seen.append((self.server.server_address[1], self.headers.get("X-Log")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def exporter_config_changes(a, b1, work):
    """Issue 23: a PATCH of an exporter-backed plugin's config takes effect for the next records
    (http-log's headers and endpoint, file-log's path), as in Kong."""
    sinks = []
    for _ in range(2):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LogSink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sinks.append(server)
    one, two = (s.server_address[1] for s in sinks)
    a.send("POST", "/services", js={"name": "logged", "url": f"http://127.0.0.1:{b1}"})
    a.send("POST", "/services/logged/routes", js={"name": "logged", "paths": ["/logged"]})
    status, plugin, _ = a.send("POST", "/routes/logged/plugins", js={"name": "http-log", "config": {
        "http_endpoint": f"http://127.0.0.1:{one}/logs", "headers": {"X-Log": "first"}, "queue": {"max_coalescing_delay": 0.1}}})
    check(status == 201, f"http-log created: {status} {plugin}")
    a.proxy_get("/logged/a")
    check(wait_for(lambda: (one, "first") in LogSink.seen, 10), f"http-log sent with its header ({LogSink.seen})")
    status, _, _ = a.send("PATCH", f"/plugins/{plugin['id']}", js={"config": {
        "http_endpoint": f"http://127.0.0.1:{two}/logs", "headers": {"X-Log": "second"}}})
    check(status == 200, "http-log PATCHed")
    a.proxy_get("/logged/b")
    check(wait_for(lambda: (two, "second") in LogSink.seen, 10), f"after the PATCH: the new endpoint and header ({LogSink.seen})")
    check(LogSink.seen.count((one, "first")) == 1, "nothing more to the old endpoint")
    first, second = f"{work}/first.log", f"{work}/second.log"
    a.send("POST", "/services/logged/routes", js={"name": "filed", "paths": ["/filed"]})
    status, plugin, _ = a.send("POST", "/routes/filed/plugins", js={"name": "file-log", "config": {"path": first}})
    a.proxy_get("/filed/a")
    check(wait_for(lambda: os.path.exists(first) and "/filed/a" in open(first).read(), 10), "file-log writes its path")
    check(a.send("PATCH", f"/plugins/{plugin['id']}", js={"config": {"path": second}})[0] == 200, "file-log PATCHed")
    a.proxy_get("/filed/b")
    check(wait_for(lambda: os.path.exists(second) and "/filed/b" in open(second).read(), 10), "after the PATCH: the new path")
    check("/filed/b" not in open(first).read(), "nothing more to the old path")
    for server in sinks:
        server.shutdown()


def main():
    work = tempfile.mkdtemp(prefix="argus-admin-it-")
    procs = []
    try:
        b1, b2 = free_port(), free_port()
        backend(b1)
        backend(b2)
        a = Argus(work, "argus")
        check(a.start(), "argus starts on its embedded database")
        procs.append(a.proc)
        status, body, headers = a.get("/")
        check(status == 200 and headers.get("X-Kong-Admin-Latency") is not None, "GET / with X-Kong-Admin-Latency")
        check(a.get("/status")[1].get("database") == {"reachable": True}, "status: database reachable")

        getting_started(a, b1)
        upstream_flows(a, b1, b2)
        seed_001_plugins(a, b1)
        invalid_input(a)
        cors_and_content_types(a)
        pagination_and_concurrency(a)
        exporter_config_changes(a, b1, work)

        check(a.send("DELETE", "/routes/example_route")[0] == 204, "route deleted")
        status, body, _ = a.proxy_get("/mock/anything")
        check(status == 404 and body.get("message") == "no Route matched with those values", f"deleted route: proxy 404 {body}")

        check(a.get("/plugins/enabled")[1]["enabled_plugins"].count("rate-limiting") == 1, "/plugins/enabled")
        schema = a.get("/schemas/plugins/rate-limiting")[1]
        check(any("config" in f for f in schema["fields"]), "/schemas/plugins/rate-limiting")
        check(a.get("/schemas/plugins/nope")[0] == 404, "unknown plugin schema: 404")

        # persistence across a restart
        dump = a.get("/config")[1]["config"]
        a.stop()
        check(a.start(), "argus restarts on the same database")
        procs.append(a.proc)
        check(a.get("/config")[1]["config"] == dump, "every entity survives the restart")
        check(a.proxy_get("/fastapi")[0] == 401, "the restarted proxy serves the stored plugins")

        # round trip: GET /config loaded into a fresh DB-less Argus gives the same configuration
        open(f"{work}/exported.json", "w").write(dump)
        d = Argus(work, "dbless", ["--config", f"{work}/exported.json"])
        check(d.start(), "DB-less argus loads the exported document")
        procs.append(d.proc)
        check(json.loads(d.get("/config")[1]["config"]) == json.loads(dump), "exported document round-trips")
        status, body, _ = d.send("POST", "/services", {"name": "x", "host": "h"})
        check(status == 405 and body == {"code": 12, "name": "operation unsupported",
                                         "message": "cannot create 'services' entities when not using a database"},
              f"DB-less CRUD write: {status} {body}")
        check(d.send("DELETE", "/services/user-api")[0] == 405, "DB-less delete: 405")
        check(len(d.get("/status")[1].get("configuration_hash", "")) == 32, "DB-less status has configuration_hash")
        open(f"{work}/kong.yml", "w").write(f"""_format_version: "3.0"
services:
  - name: only
    url: http://127.0.0.1:{b1}
    routes: [{{name: only-route, paths: ["/only"]}}]
""")
        results = run_curl(d, f"""
    curl -X POST http://localhost:8001/config \\
      -F "config=@{work}/kong.yml"
""")
        check(results and results[0][0] == 201, f"POST /config -F config=@kong.yml: {results}")
        check(d.proxy_get("/only")[0] == 200 and d.proxy_get("/fastapi")[0] == 404, "POST /config replaced everything")
        status = http_call("POST", d.admin + "/config?check_hash=1", open(f"{work}/kong.yml").read(),
                           {"Content-Type": "application/yaml"})[0]
        check(status == 304, f"check_hash=1 with the same document: {status}")
        status, body, _ = http_call("POST", d.admin + "/config", "_format_version: \"3.0\"\nservices: [{name: x}]\n",
                                    {"Content-Type": "application/yaml"})
        check(status == 400 and body.get("code") == 14 and "host" in json.dumps(body["fields"]), f"invalid POST /config: {body}")
        d.stop()

        procs.append(seed_004(work).proc)

        # multipart bodies on a CRUD endpoint
        out = subprocess.run(["curl", "-sS", "-X", "POST", a.admin + "/services", "-F", "name=multipart-svc",
                              "-F", f"url=http://127.0.0.1:{b1}/mp"], capture_output=True, text=True).stdout
        check('"name":"multipart-svc"' in out and '"path":"/mp"' in out, f"multipart form: {out}")

        # body limit
        status = http_call("POST", a.admin + "/services", json.dumps({"name": "big", "host": "h", "tags": ["x" * 3000]}),
                           {"Content-Type": "application/json"})[0]
        check(status == 201, "a 3 kB body under the default limit")
        a.stop()
        small = Argus(work, "small", ["--admin-body-limit", "2000"], data=a.data)
        check(small.start(), "argus with a 2000-byte admin body limit")
        procs.append(small.proc)
        status, body, _ = http_call("POST", small.admin + "/services", json.dumps({"name": "big2", "host": "h", "tags": ["x" * 3000]}),
                                    {"Content-Type": "application/json"})
        check(status == 413, f"over the limit: {status}")
        small.stop()

        # the admin token
        exposed = Argus(work, "exposed")
        exposed.args[exposed.args.index("--admin-listen") + 1] = f"0.0.0.0:{exposed.admin_port}"
        proc = subprocess.run(exposed.args, capture_output=True, text=True, timeout=30)
        check(proc.returncode != 0 and "admin-token" in proc.stderr, f"non-loopback admin without a token refused: {proc.stderr}")
        guarded = Argus(work, "guarded", ["--admin-token", "s3cret-token"])
        check(guarded.start(), "argus with an admin token")
        procs.append(guarded.proc)
        check(guarded.get("/services")[0] == 401, "no token: 401")
        check(guarded.get("/services", headers={"Authorization": "Bearer wrong"})[0] == 401, "wrong token: 401")
        check(guarded.get("/services", headers={"Authorization": "Bearer s3cret-token"})[0] == 200, "Bearer token: 200")
        check(guarded.get("/services", headers={"Kong-Admin-Token": "s3cret-token"})[0] == 200, "Kong-Admin-Token: 200")
        guarded.stop()

        logs = "".join(open(f"{work}/{n}.log").read() for n in ("argus", "dbless", "guarded"))
        check("top-secret-key" not in logs and "your-secret" not in logs and "s3cret-token" not in logs,
              "no credential or token in Argus's logs")
    finally:
        finish(procs, work, TALLY)
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
