#!/usr/bin/env python3
"""Kong's zipkin plugin through Argus, checked with real Zipkin parts: py_zipkin (the Zipkin
project's Python tracer) as a client that starts a trace and as an upstream that continues it,
both reporting Zipkin v2 JSON to the same receiver as Argus; every span the receiver gets is
validated against the Span model of zipkin2-api.yaml (jsonschema) and recognised by py_zipkin's
encoding detector as v2 JSON. Checked, after Kong's spec/03-plugins/34-zipkin/zipkin_spec.lua:
the request / proxy / balancer spans with Kong's names, kinds, parents, tags, endpoints and
annotations; b3 (multi and single), w3c and jaeger propagation (b3 and jaeger clients' spans
shared as Kong does); non-matched requests; `Zipkin-Tags`, `static_tags`, `http_span_name`,
`phase_duration_flavor: tags`, `traceid_byte_count: 8`, `http_response_header_for_traceid`,
`sample_ratio` and a client's decision, an instance without `http_endpoint` (propagation only),
`kong.consumer`/`kong.credential` and `include_credential`, retries as balancer spans, and a
collector outage that loses no span. Run with a Python that has py_zipkin and jsonschema
(scripts/test.sh makes the venv). Prints "N passed, M failed".
"""
import http.server
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, finish, free_port, metric, send_json, serve, start_argus, wait_for  # noqa: E402

import jsonschema  # noqa: E402
from py_zipkin import Kind  # noqa: E402
from py_zipkin.encoding import Encoding, detect_span_version_and_encoding  # noqa: E402
from py_zipkin.transport import SimpleHTTPTransport  # noqa: E402
from py_zipkin.util import ZipkinAttrs  # noqa: E402
from py_zipkin.zipkin import create_http_headers_for_new_span, zipkin_span  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check

# The Span model of openzipkin/zipkin-api's zipkin2-api.yaml (ListOfSpans), as a JSON schema.
ENDPOINT = {"type": "object", "additionalProperties": False, "properties": {
    "serviceName": {"type": "string"}, "ipv4": {"type": "string", "format": "ipv4"},
    "ipv6": {"type": "string", "format": "ipv6"}, "port": {"type": "integer"}}}
SPAN = {"type": "object", "additionalProperties": False, "required": ["traceId", "id"], "properties": {
    "traceId": {"type": "string", "pattern": "^([0-9a-f]{16}|[0-9a-f]{32})$"},
    "name": {"type": "string"},
    "parentId": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
    "id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
    "kind": {"enum": ["CLIENT", "SERVER", "PRODUCER", "CONSUMER"]},
    "timestamp": {"type": "integer", "minimum": 1}, "duration": {"type": "integer", "minimum": 1},
    "debug": {"type": "boolean"}, "shared": {"type": "boolean"},
    "localEndpoint": ENDPOINT, "remoteEndpoint": ENDPOINT,
    "annotations": {"type": "array", "items": {"type": "object", "required": ["timestamp", "value"], "additionalProperties": False,
                                                "properties": {"timestamp": {"type": "integer"}, "value": {"type": "string"}}}},
    "tags": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}}}}
LIST_OF_SPANS = {"type": "array", "items": SPAN}
VALIDATOR = jsonschema.Draft7Validator(LIST_OF_SPANS, format_checker=jsonschema.FormatChecker())


class Receiver:
    """A Zipkin collector's `POST /api/v2/spans` (JSON). `down` answers 503 (an outage)."""

    def __init__(self):
        self.spans, self.invalid, self.bodies, self.content_types = [], [], 0, set()
        self.down = False
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.down:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.bodies += 1
                    receiver.content_types.add(self.headers.get("Content-Type"))
                    if self.path != "/api/v2/spans" or detect_span_version_and_encoding(body) != Encoding.V2_JSON:
                        receiver.invalid.append(f"{self.path}: not v2 JSON: {body[:200]!r}")
                    spans = json.loads(body)
                    for error in VALIDATOR.iter_errors(spans):
                        receiver.invalid.append(f"{list(error.absolute_path)}: {error.message}")
                    receiver.spans.extend(spans)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = serve(Handler).server_port

    def trace(self, trace_id):
        with self.lock:
            return [s for s in self.spans if s["traceId"] == trace_id]

    def kong(self, trace_id):
        """Argus's spans of a trace by name."""
        return {s["name"]: s for s in self.trace(trace_id) if s.get("localEndpoint", {}).get("serviceName") == "kong"}


class Upstream:
    """An upstream that keeps each request's headers and continues the b3 trace with py_zipkin
    (its server span reported to the receiver, sharing the span id it was given)."""

    def __init__(self, receiver):
        self.seen = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                headers = {k.lower(): v for k, v in self.headers.items()}
                upstream.seen.append(headers)
                if "x-b3-traceid" in headers and headers.get("x-b3-sampled") == "1":
                    attrs = ZipkinAttrs(trace_id=headers["x-b3-traceid"], span_id=headers["x-b3-spanid"],
                                        parent_span_id=headers.get("x-b3-parentspanid"), flags="0", is_sampled=True)
                    with zipkin_span(service_name="upstream-app", span_name="handle", zipkin_attrs=attrs, kind=Kind.SERVER,
                                     transport_handler=SimpleHTTPTransport("127.0.0.1", receiver.port), encoding=Encoding.V2_JSON):
                        pass
                send_json(self, {"path": self.path})

            def log_message(self, *args):
                pass

        self.port = serve(Handler).server_port


def get(port, path, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


CONSUMER_ID, CREDENTIAL_ID = "5d4b7e2a-1c3f-4e8a-9b6d-0f1e2d3c4b5a", "8a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d"
SERVICE_ID, ROUTE_ID = "1b2c3d4e-5f60-4a7b-8c9d-aabbccddeeff", "2c3d4e5f-6071-4b8c-9dae-bbccddeeff00"


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="argus-zipkin-")
    receiver, outage = Receiver(), Receiver()
    upstream = Upstream(receiver)
    dead = free_port()
    endpoint = f"http://127.0.0.1:{receiver.port}/api/v2/spans"
    zipkin = {"http_endpoint": endpoint, "sample_ratio": 1, "static_tags": [{"name": "static", "value": "ok"}],
              "queue": {"max_batch_size": 50, "max_coalescing_delay": 0.05}}

    def route(name, config, extra=None):
        return {"name": name, "paths": [f"/{name}"], "plugins": [{"name": "zipkin", "config": config}] + (extra or [])}

    config = {
        "_format_version": "3.0",
        "upstreams": [{"name": "flaky", "targets": [{"target": f"127.0.0.1:{dead}"}, {"target": f"127.0.0.1:{upstream.port}"}]}],
        "consumers": [{"username": "alice", "id": CONSUMER_ID, "keyauth_credentials": [{"key": "alice-key", "id": CREDENTIAL_ID}]}],
        # the global instance: requests no route matches (and routes without their own)
        "plugins": [{"name": "zipkin", "config": dict(zipkin, default_header_type="b3-single")}],
        "services": [
            {"name": "app", "id": SERVICE_ID, "url": f"http://127.0.0.1:{upstream.port}", "routes": [
                dict(route("default", zipkin), id=ROUTE_ID),
                route("path", dict(zipkin, http_span_name="method_path")),
                route("tags", dict(zipkin, phase_duration_flavor="tags")),
                route("short", dict(zipkin, traceid_byte_count=8, http_response_header_for_traceid="X-B3-TraceId")),
                route("never", dict(zipkin, sample_ratio=0)),
                route("noendpoint", {"sample_ratio": 1}),
                route("auth", zipkin, [{"name": "key-auth"}]),
                route("nocred", dict(zipkin, include_credential=False), [{"name": "key-auth"}]),
                route("w3c", dict(zipkin, propagation={"extract": ["b3", "w3c", "jaeger"], "inject": ["preserve", "w3c"],
                                                        "default_format": "b3"})),
                route("logged", zipkin, [{"name": "file-log", "config": {"path": f"{work}/logged.log"}}]),
                # Kong's default queue (batches of one request): still a JSON array
                route("outage", dict(zipkin, http_endpoint=f"http://127.0.0.1:{outage.port}/api/v2/spans", queue={})),
            ]},
            {"name": "retry", "host": "flaky", "retries": 3, "routes": [route("retry", zipkin)]},
        ],
    }
    argus, proxy, status, ready = start_argus(ARGUS, work, "argus", config)
    try:
        if check(ready, "argus started"):
            run(proxy, status, receiver, outage, upstream, work, dead)
    finally:
        finish([argus], work, TALLY)
    print(f"({time.time() - started:.1f} s)")
    return TALLY.close()


def timestamp_ok(us, start):
    return isinstance(us, int) and 0 <= us / 1e6 - start < 300


def annotations(span):
    return {a["value"]: a["timestamp"] for a in span.get("annotations", [])}


def check_invariants(request, proxy_span, start, what, flavor="annotations"):
    """Kong's `assert_span_invariants`."""
    check(request["kind"] == "SERVER" and proxy_span["kind"] == "CLIENT", f"{what}: kinds")
    check(proxy_span["parentId"] == request["id"] and proxy_span["traceId"] == request["traceId"], f"{what}: the proxy span is the request's child")
    check(proxy_span["name"] == request["name"] + " (proxy)", f"{what}: proxy span name {proxy_span['name']}")
    check(timestamp_ok(request["timestamp"], start) and timestamp_ok(proxy_span["timestamp"], start), f"{what}: wall-clock timestamps")
    check(request["duration"] >= proxy_span["duration"] >= 1, f"{what}: durations {request['duration']} >= {proxy_span['duration']}")
    check(request["localEndpoint"] == {"serviceName": "kong"} and proxy_span["localEndpoint"] == {"serviceName": "kong"}, f"{what}: localEndpoint")
    if flavor == "annotations":
        r, p = annotations(request), annotations(proxy_span)
        check(set(r) == {"krs", "krf"} and r["krs"] <= r["krf"], f"{what}: request annotations {r}")
        check(set(p) == {"kas", "kaf", "khs", "khf", "kbs", "kbf"} and len(proxy_span["annotations"]) == 6, f"{what}: proxy annotations {p}")
        if len(p) == 6:
            check(p["kas"] <= p["kaf"] and p["khs"] <= p["khf"] and p["kbs"] <= p["kbf"] and p["khs"] <= p["kbs"], f"{what}: annotation order {p}")


def run(proxy, status, receiver, outage, upstream, work, dead):
    start = time.time()
    # 1. One trace end to end: a py_zipkin client → Argus → a py_zipkin upstream (Kong's "generates spans,
    #    tags and annotations for regular requests").
    with zipkin_span(service_name="client-app", span_name="client-call", sample_rate=100.0, kind=Kind.CLIENT,
                     transport_handler=SimpleHTTPTransport("127.0.0.1", receiver.port), encoding=Encoding.V2_JSON):
        sent = create_http_headers_for_new_span()
        code, _, _ = get(proxy, "/default/end-to-end?x=1", dict(sent, **{"zipkin-tags": "foo=bar; baz=qux"}))
    check(code == 200, f"traced request proxied ({code})")
    trace = sent["X-B3-TraceId"]
    check(wait_for(lambda: len(receiver.trace(trace)) >= 5, 10),
          f"five spans of one trace: client, request, proxy, balancer, upstream ({len(receiver.trace(trace))})")
    kong = receiver.kong(trace)
    check(set(kong) == {"GET", "GET (proxy)", "GET (balancer try 1)"}, f"Kong's span names {sorted(kong)}")
    if len(kong) == 3:
        request, proxy_span, balancer = kong["GET"], kong["GET (proxy)"], kong["GET (balancer try 1)"]
        check_invariants(request, proxy_span, start, "regular request")
        check(request["id"] == sent["X-B3-SpanId"] and request.get("parentId") == sent["X-B3-ParentSpanId"],
              "the client's b3 span is the request span (Kong's reuse_span_id), its parent the client's")
        seen = upstream.seen[-1]
        check(seen.get("x-b3-traceid") == trace and seen.get("x-b3-spanid") == proxy_span["id"]
              and seen.get("x-b3-parentspanid") == request["id"] and seen.get("x-b3-sampled") == "1",
              f"b3 upstream: the proxy span ({seen.get('x-b3-spanid')})")
        tags = dict(request.get("tags", {}))
        check(re.fullmatch(r"[0-9a-f-]+", tags.pop("kong.node.id", "")) is not None, "kong.node.id")
        check(tags == {"http.method": "GET", "http.path": "/default/end-to-end", "http.status_code": "200", "http.protocol": "HTTP/1.1",
                       "http.host": "127.0.0.1", "lc": "kong", "static": "ok", "foo": "bar", "baz": "qux"}, f"request tags {tags}")
        remote = request.get("remoteEndpoint", {})
        check(remote.get("ipv4") == "127.0.0.1" and isinstance(remote.get("port"), int) and set(remote) == {"ipv4", "port"},
              f"the client as the request's remote endpoint {remote}")
        check(proxy_span.get("tags") == {"kong.route": ROUTE_ID, "kong.route_name": "default", "kong.service": SERVICE_ID,
                                         "kong.service_name": "app", "peer.hostname": "127.0.0.1"}, f"proxy tags {proxy_span.get('tags')}")
        check(proxy_span.get("remoteEndpoint") == {"ipv4": "127.0.0.1", "port": upstream.port, "serviceName": "app"},
              f"the target as the proxy's remote endpoint {proxy_span.get('remoteEndpoint')}")
        check(balancer["parentId"] == request["id"] and balancer["kind"] == "CLIENT", "the balancer span is the request's child")
        check(balancer.get("remoteEndpoint") == {"ipv4": "127.0.0.1", "port": upstream.port, "serviceName": "app"}, "balancer remote endpoint")
        btags = balancer.get("tags", {})
        check(btags == {"kong.balancer.try": "1", "kong.route": ROUTE_ID, "kong.route_name": "default", "kong.service": SERVICE_ID,
                        "kong.service_name": "app"}, f"balancer tags {btags}")
        check(balancer["timestamp"] >= request["timestamp"], "the balancer span starts within the request")
        app = [s for s in receiver.trace(trace) if s.get("localEndpoint", {}).get("serviceName") == "upstream-app"]
        check(len(app) == 1 and app[0]["id"] == proxy_span["id"], "the upstream's span continues the proxy span")
    check(receiver.content_types == {"application/json"}, f"content type {receiver.content_types}")

    # 2. Non-matched requests: the global instance, two spans, no balancer.
    t = "%032x" % 0xA1
    code, _, _ = get(proxy, "/foobar", {"x-b3-traceid": t, "x-b3-sampled": "1", "zipkin-tags": "error = true"})
    check(code == 404, f"no route: 404 ({code})")
    check(wait_for(lambda: len(receiver.kong(t)) == 2, 10), f"two spans for a non-matched request ({sorted(receiver.kong(t))})")
    spans = receiver.kong(t)
    if len(spans) == 2 and "GET" in spans:
        request, proxy_span = spans["GET"], spans["GET (proxy)"]
        check_invariants(request, proxy_span, start, "non-matched")
        tags = dict(request.get("tags", {}))
        tags.pop("kong.node.id", None)
        check(tags == {"http.method": "GET", "http.path": "/foobar", "http.status_code": "404", "http.protocol": "HTTP/1.1",
                       "http.host": "127.0.0.1", "lc": "kong", "static": "ok", "error": "true"}, f"non-matched tags {tags}")
        check("tags" not in proxy_span and "remoteEndpoint" not in proxy_span, "the proxy span has no tags and no remote endpoint")

    # 3. b3 single header (Kong's "b3 single header propagation").
    t, s, p = "%032x" % 0xB1, "%016x" % 0xB2, "%016x" % 0xB3
    get(proxy, "/default/b3", {"b3": f"{t}-{s}-1-{p}"})
    check(re.fullmatch(f"{t}-[0-9a-f]{{16}}-1-{s}", upstream.seen[-1].get("b3", "")) is not None,
          f"b3 single upstream {upstream.seen[-1].get('b3')}")
    check(wait_for(lambda: len(receiver.kong(t)) == 3, 10), "b3 single: three spans")
    spans = receiver.kong(t)
    if len(spans) == 3:
        check(spans["GET"]["id"] == s and spans["GET"]["parentId"] == p, "b3 single: the request span is the client's")
        check(spans["GET (proxy)"]["parentId"] == s and spans["GET (proxy)"]["id"] != s, "b3 single: proxy span")
        check(spans["GET (balancer try 1)"]["parentId"] == s, "b3 single: balancer span")

    # 4. w3c: the client's span is the request span's parent (not shared); preserve + w3c injected.
    t, p = "%032x" % 0xC1, "%016x" % 0xC2
    get(proxy, "/w3c/x", {"traceparent": f"00-{t}-{p}-01"})
    check(re.fullmatch(f"00-{t}-[0-9a-f]{{16}}-01", upstream.seen[-1].get("traceparent", "")) is not None, "w3c upstream")
    check(wait_for(lambda: len(receiver.kong(t)) == 3, 10), "w3c: three spans")
    spans = receiver.kong(t)
    if len(spans) == 3:
        check(spans["GET"]["parentId"] == p and spans["GET"]["id"] != p, "w3c: the client's span is the parent")
        check(upstream.seen[-1]["traceparent"].split("-")[2] == spans["GET (proxy)"]["id"], "w3c: the proxy span upstream")

    # 5. jaeger (64-bit trace id kept at its width).
    t, s, p = "%016x" % 0xD1, "%016x" % 0xD2, "%016x" % 0xD3
    get(proxy, "/default/jaeger", {"uber-trace-id": f"{t}:{s}:{p}:1"})
    check(re.fullmatch(f"{t}:[0-9a-f]{{16}}:{s}:01", upstream.seen[-1].get("uber-trace-id", "")) is not None,
          f"jaeger upstream {upstream.seen[-1].get('uber-trace-id')}")
    check(wait_for(lambda: len(receiver.kong(t)) == 3, 10), "jaeger: three spans, the 64-bit trace id as 16 digits")
    spans = receiver.kong(t)
    if len(spans) == 3:
        check(spans["GET"]["id"] == s and spans["GET"]["parentId"] == p, "jaeger: the request span is the client's")

    # 6. traceid_byte_count 8 and http_response_header_for_traceid.
    code, headers, _ = get(proxy, "/short/x")
    short = headers.get("x-b3-traceid", "")
    check(re.fullmatch(r"[0-9a-f]{16}", short) is not None, f"a 16-digit trace id in the response ({short})")
    check(wait_for(lambda: len(receiver.kong(short)) == 3, 10), "traceid_byte_count 8: spans with a 64-bit trace id")

    # 7. http_span_name: method_path.
    t = "%032x" % 0xE1
    get(proxy, "/path/p?q=1", {"x-b3-traceid": t, "x-b3-sampled": "1"})
    check(wait_for(lambda: set(receiver.kong(t)) == {"GET /path/p", "GET /path/p (proxy)", "GET /path/p (balancer try 1)"}, 10),
          f"method_path names {sorted(receiver.kong(t))}")

    # 8. phase_duration_flavor: tags.
    t = "%032x" % 0xE2
    get(proxy, "/tags/x", {"x-b3-traceid": t, "x-b3-sampled": "1"})
    check(wait_for(lambda: len(receiver.kong(t)) == 3, 10), "tags flavour: three spans")
    spans = receiver.kong(t)
    if len(spans) == 3:
        check_invariants(spans["GET"], spans["GET (proxy)"], start, "tags flavour", flavor="tags")
        rt, pt = spans["GET"].get("tags", {}), spans["GET (proxy)"].get("tags", {})
        check(int(rt.get("kong.rewrite.duration_ms", -1)) >= 0, "kong.rewrite.duration_ms")
        check(all(int(pt.get(k, -1)) >= 0 for k in ["kong.access.duration_ms", "kong.header_filter.duration_ms", "kong.body_filter.duration_ms"]),
              f"proxy duration tags {pt}")
        check("annotations" not in spans["GET"] and "annotations" not in spans["GET (proxy)"], "no annotations with tags")

    # 9. Sampling: ratio 0 exports nothing unless the client decided to sample; headers go upstream either way.
    code, _, _ = get(proxy, "/never/x")
    check(code == 200 and upstream.seen[-1].get("x-b3-sampled") == "0", f"ratio 0: not sampled upstream ({upstream.seen[-1].get('x-b3-sampled')})")
    unsampled = upstream.seen[-1].get("x-b3-traceid")
    t = "%032x" % 0xF1
    get(proxy, "/never/x", {"x-b3-traceid": t, "x-b3-spanid": "%016x" % 0xF2, "x-b3-sampled": "1"})
    check(wait_for(lambda: len(receiver.kong(t)) == 3, 10), "ratio 0 and a client's sampled=1: exported")
    check(not receiver.kong(unsampled), "ratio 0: the unsampled trace was not exported")

    # 10. No http_endpoint: propagation only.
    code, _, _ = get(proxy, "/noendpoint/x")
    seen = upstream.seen[-1]
    check(code == 200 and seen.get("x-b3-sampled") == "1" and re.fullmatch(r"[0-9a-f]{32}", seen.get("x-b3-traceid", "")),
          "no endpoint: b3 headers still injected")
    time.sleep(0.5)
    check(not receiver.kong(seen.get("x-b3-traceid")), "no endpoint: Argus reported nothing (the upstream's own span only)")

    # 11. Consumer and credential.
    t = "%032x" % 0xF3
    get(proxy, "/auth/x", {"x-b3-traceid": t, "x-b3-sampled": "1", "apikey": "alice-key"})
    check(wait_for(lambda: "GET" in receiver.kong(t), 10), "authenticated request traced")
    tags = receiver.kong(t).get("GET", {}).get("tags", {})
    check(tags.get("kong.consumer") == CONSUMER_ID and tags.get("kong.credential") == CREDENTIAL_ID, f"consumer and credential tags {tags}")
    t = "%032x" % 0xF4
    get(proxy, "/nocred/x", {"x-b3-traceid": t, "x-b3-sampled": "1", "apikey": "alice-key"})
    check(wait_for(lambda: "GET" in receiver.kong(t), 10), "include_credential false: traced")
    tags = receiver.kong(t).get("GET", {}).get("tags", {})
    check(tags.get("kong.consumer") == CONSUMER_ID and "kong.credential" not in tags, "include_credential false: no credential tag")
    t = "%032x" % 0xF5
    code, _, _ = get(proxy, "/auth/x", {"x-b3-traceid": t, "x-b3-sampled": "1"})
    check(code == 401 and wait_for(lambda: len(receiver.kong(t)) == 2, 10), "a refused request: request and proxy spans, no balancer")

    # 12. Retries: one balancer span per try, the failed one tagged.
    found = []
    for i in range(6):
        t = "%032x" % (0x3000 + i)
        get(proxy, "/retry/x", {"x-b3-traceid": t, "x-b3-sampled": "1"})
    def retried():
        found[:] = [receiver.kong("%032x" % (0x3000 + i)) for i in range(6)]
        found[:] = [s for s in found if "GET (balancer try 2)" in s]
        return bool(found)
    if check(wait_for(retried, 10), "a request with two tries has two balancer spans"):
        first, second = found[0]["GET (balancer try 1)"], found[0]["GET (balancer try 2)"]
        check(first["tags"].get("error") == "true" and first["tags"].get("kong.balancer.state") == "failed"
              and first["tags"].get("kong.balancer.try") == "1" and first["remoteEndpoint"].get("port") == dead,
              f"the failed try {first['tags']}")
        check("error" not in second["tags"] and second["tags"].get("kong.balancer.try") == "2", "the second try")

    # 13. Kong's trace_id in a log plugin's record (the injected b3 id).
    t = "%032x" % 0xF6
    get(proxy, "/logged/x", {"x-b3-traceid": t, "x-b3-sampled": "1"})
    def logged():
        with open(f"{work}/logged.log") as f:
            return [json.loads(line) for line in f if line.strip()]
    if check(wait_for(lambda: len(logged()) == 1, 10), "file-log wrote the record"):
        check(logged()[0].get("trace_id") == {"b3": t}, f"the record's trace_id ({logged()[0].get('trace_id')})")

    # 14. The collector down: spans wait (and spool), then all arrive.
    outage.down = True
    ids = ["%032x" % (0x5000 + i) for i in range(30)]
    for t in ids:
        get(proxy, "/outage/x", {"x-b3-traceid": t, "x-b3-sampled": "1"})
    time.sleep(1.5)
    failed = metric(status, 'argus_log_batches_failed_total{sink="zipkin"')
    check(failed >= 1, f"failed batches counted ({failed})")
    outage.down = False
    check(wait_for(lambda: all(len(outage.kong(t)) == 3 for t in ids), 30),
          f"every span of the outage delivered ({sum(len(outage.kong(t)) for t in ids)} of {3 * len(ids)})")
    text = urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read().decode()
    def outcome(name):
        return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                   if line.startswith('argus_log_records_total{sink="zipkin"') and f'outcome="{name}"' in line)
    check(outcome("sent") >= len(ids), f"sent records (one per request) on /metrics ({outcome('sent')})")
    check(outcome("dropped") == 0, "nothing dropped")
    check(metric(status, 'argus_log_spool_records{sink="zipkin"') == 0, "the spool drained")

    with receiver.lock:
        invalid = list(receiver.invalid) + list(outage.invalid)
    check(not invalid, f"every body is a zipkin2 ListOfSpans ({invalid[:3]})")


if __name__ == "__main__":
    sys.exit(main())
