#!/usr/bin/env python3
"""Kong's opentelemetry plugin through Argus, checked with the OpenTelemetry project's own parts:
an OTLP/HTTP receiver decoding with `opentelemetry-proto` (protobuf), the OpenTelemetry Python SDK
as a client that starts a trace and as an upstream that continues it (both export to the same
receiver). Checked: one trace end to end (client span → Argus's `kong` span → its `kong.balancer`
span → the upstream's span, one trace id), Kong's span names, kinds and attributes, every
propagation format Kong injects, extraction of b3 / b3-single / jaeger / datadog / aws / gcp,
`header_type` and `propagation` settings, sampling (rate 0, a client's "not sampled"),
`http_response_header_for_traceid`, requests refused by a plugin, retries as one balancer span per
try, `logs_endpoint` records tied to the trace, and a receiver outage that loses no span.
Run with a Python that has opentelemetry-sdk, opentelemetry-proto and
opentelemetry-exporter-otlp-proto-http (scripts/test.sh makes the venv). Prints "N passed, M failed".
"""
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, finish, free_port, metric, wait_for  # noqa: E402

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import Span  # noqa: E402
from opentelemetry import propagate  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def attributes(items):
    return {kv.key: value(kv.value) for kv in items}


class Receiver:
    """An OTLP/HTTP receiver: POST /v1/traces and /v1/logs with protobuf bodies. `down` makes it
    answer 503 (a collector outage)."""

    def __init__(self):
        self.spans, self.logs, self.requests, self.content_types = [], [], 0, set()
        self.headers = []
        self.down = False
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                # the outage is Argus's collector's (the SDKs' exports, synchronous, would block the apps)
                if receiver.down and self.headers.get("X-Collector-Token"):
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.requests += 1
                    receiver.content_types.add(self.headers.get("Content-Type"))
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if self.path == "/v1/traces":
                        message = ExportTraceServiceRequest.FromString(body)
                        for rs in message.resource_spans:
                            resource = attributes(rs.resource.attributes)
                            for ss in rs.scope_spans:
                                for span in ss.spans:
                                    receiver.spans.append((resource, ss.scope, span))
                    elif self.path == "/v1/logs":
                        message = ExportLogsServiceRequest.FromString(body)
                        for rl in message.resource_logs:
                            resource = attributes(rl.resource.attributes)
                            for sl in rl.scope_logs:
                                for record in sl.log_records:
                                    receiver.logs.append((resource, record))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kong_spans(self, trace_id=None):
        with self.lock:
            return [s for r, _, s in self.spans if r.get("service.name") == "kong" and (trace_id is None or s.trace_id == trace_id)]

    def all_spans(self, trace_id):
        with self.lock:
            return [(r, s) for r, _, s in self.spans if s.trace_id == trace_id]


def sdk_tracer(receiver, name):
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{receiver.port}/v1/traces")))
    return provider.get_tracer("argus-it")


class Upstream:
    """An upstream that keeps the headers of each request and continues the trace with the SDK
    (its span exported to the receiver, as a real instrumented app does)."""

    def __init__(self, tracer):
        self.seen = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                headers = {k.lower(): v for k, v in self.headers.items()}
                upstream.seen.append(headers)
                context = propagate.extract(headers)
                with tracer.start_as_current_span("upstream-handler", context=context, kind=SpanKind.SERVER):
                    body = json.dumps({"path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def get(port, path, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="argus-otel-")
    receiver = Receiver()
    upstream = Upstream(sdk_tracer(receiver, "upstream-app"))
    client_tracer = sdk_tracer(receiver, "client-app")
    dead = free_port()
    proxy, admin, status = free_port(), free_port(), free_port()
    traces = f"http://127.0.0.1:{receiver.port}/v1/traces"
    logs = f"http://127.0.0.1:{receiver.port}/v1/logs"
    otel = {"traces_endpoint": traces, "sampling_rate": 1, "queue": {"max_coalescing_delay": 0.05},
            "resource_attributes": {"deployment.environment": "it"}, "headers": {"X-Collector-Token": "t0k"}}
    every = ["w3c", "b3", "b3-single", "jaeger", "ot", "aws", "gcp", "datadog"]

    def route(name, config, extra=None):
        return {"name": name, "paths": [f"/{name}"], "plugins": [{"name": "opentelemetry", "config": config}] + (extra or [])}

    config = {
        "_format_version": "3.0",
        "upstreams": [{"name": "flaky", "targets": [{"target": f"127.0.0.1:{dead}"}, {"target": f"127.0.0.1:{upstream.port}"}]}],
        "services": [
            {"name": "app", "url": f"http://127.0.0.1:{upstream.port}", "routes": [
                route("default", otel),
                route("formats", dict(otel, propagation={"extract": ["w3c"], "inject": every, "default_format": "w3c"})),
                route("b3", dict(otel, propagation={"extract": ["b3"], "inject": ["preserve"], "default_format": "w3c"})),
                route("extract", dict(otel, propagation={"extract": ["jaeger", "datadog", "aws", "gcp", "ot"], "inject": ["w3c"],
                                                         "default_format": "w3c"})),
                route("clear", dict(otel, propagation={"extract": ["b3"], "clear": ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled"],
                                                       "inject": ["w3c"], "default_format": "w3c"})),
                route("legacy", dict(otel, header_type="jaeger")),
                route("unsampled", dict(otel, sampling_rate=0, http_response_header_for_traceid="x-trace-id")),
                route("traceid", dict(otel, http_response_header_for_traceid="x-trace-id")),
                route("logs", dict(otel, logs_endpoint=logs)),
                route("auth", otel, [{"name": "key-auth"}]),
                route("logged", dict(otel, propagation={"extract": ["w3c"], "inject": ["w3c", "b3", "datadog"], "default_format": "w3c"}),
                      [{"name": "file-log", "config": {"path": f"{work}/logged.log"}}]),
            ]},
            {"name": "retry", "host": "flaky", "retries": 3, "routes": [route("retry", otel)]},
        ],
    }
    with open(f"{work}/kong.json", "w") as f:
        json.dump(config, f)
    log = open(f"{work}/argus.log", "w")
    argus = subprocess.Popen(
        [ARGUS, "start", "--config", f"{work}/kong.json", "--proxy-listen", f"127.0.0.1:{proxy}",
         "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}", "--data-dir", f"{work}/data",
         "--workers", "2"], stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200, 30, "argus")
        if check(ready, "argus started"):
            run(proxy, status, receiver, upstream, client_tracer, work)
    finally:
        finish([argus], work, TALLY)
    print(f"({time.time() - started:.1f} s)")
    return TALLY.close()


def run(proxy, status, receiver, upstream, client_tracer, work):
    # 1. One trace end to end: the SDK client → Argus → the SDK upstream.
    with client_tracer.start_as_current_span("client-call", kind=SpanKind.CLIENT) as client_span:
        headers = {}
        propagate.inject(headers)
        code, response, _ = get(proxy, "/default/end-to-end?x=1", dict(headers, **{"User-Agent": "otel-it/1"}))
        client_context = client_span.get_span_context()
    check(code == 200, f"traced request proxied ({code})")
    trace_id = client_context.trace_id.to_bytes(16, "big")
    check(wait_for(lambda: len(receiver.all_spans(trace_id)) >= 4, 10),
          f"four spans of one trace: client, kong, kong.balancer, upstream ({len(receiver.all_spans(trace_id))})")
    spans = {s.name: (r, s) for r, s in receiver.all_spans(trace_id)}
    check(set(spans) >= {"client-call", "kong", "kong.balancer", "upstream-handler"}, f"span names {sorted(spans)}")
    if {"client-call", "kong", "kong.balancer", "upstream-handler"} <= set(spans):
        client, kong, balancer, app = (spans[n][1] for n in ["client-call", "kong", "kong.balancer", "upstream-handler"])
        check(kong.parent_span_id == client.span_id, "kong's span is the child of the client's")
        check(balancer.parent_span_id == kong.span_id, "kong.balancer is the child of kong")
        check(app.parent_span_id == balancer.span_id, "the upstream's span is the child of kong.balancer (the injected span)")
        check(kong.kind == Span.SPAN_KIND_SERVER and balancer.kind == Span.SPAN_KIND_CLIENT, "kinds: server and client")
        a = attributes(kong.attributes)
        check(a.get("http.method") == "GET" and a.get("http.scheme") == "http" and a.get("http.flavor") == "1.1", f"kong attributes {a}")
        check(a.get("http.url") == "http://127.0.0.1/default/end-to-end?x=1", f"http.url {a.get('http.url')}")
        check(a.get("http.host") == "127.0.0.1" and a.get("http.status_code") == 200 and a.get("http.route") == "/default",
              "http.host, http.status_code (int), http.route")
        check(a.get("net.peer.ip") == "127.0.0.1" and a.get("http.client_ip") == "127.0.0.1", "client addresses")
        check(re.fullmatch(r"[0-9a-f]{32}", a.get("kong.request.id", "")) is not None, "kong.request.id")
        check(a.get("http.user_agent") == "otel-it/1" and a.get("http.request.size", 0) > 0 and a.get("http.response.size", 0) > 0,
              "user agent and sizes")
        b = attributes(balancer.attributes)
        check(b.get("try_count") == 1.0 and b.get("net.peer.ip") == "127.0.0.1" and b.get("net.peer.port") == float(upstream.port),
              f"balancer attributes {b}")
        check(kong.start_time_unix_nano <= balancer.start_time_unix_nano <= balancer.end_time_unix_nano <= kong.end_time_unix_nano,
              "the balancer span lies within kong's")
        check(abs(kong.start_time_unix_nano / 1e9 - time.time()) < 30, "span times are wall-clock")
        resource, = {json.dumps(r, sort_keys=True) for r, s in receiver.all_spans(trace_id) if s.name == "kong"}
        resource = json.loads(resource)
        check(resource.get("service.name") == "kong" and resource.get("deployment.environment") == "it"
              and resource.get("service.instance.id") and resource.get("service.version"), f"resource {resource}")
    with receiver.lock:
        scopes = {sc.name for r, sc, s in receiver.spans if r.get("service.name") == "kong"}
    check(scopes == {"kong-internal"}, f"scope {scopes}")
    check("application/x-protobuf" in receiver.content_types, f"content type {receiver.content_types}")
    check(any(h.get("x-collector-token") == "t0k" for h in receiver.headers), "the configured headers reach the collector")
    seen = upstream.seen[-1]
    check(re.fullmatch(r"00-%s-[0-9a-f]{16}-01" % trace_id.hex(), seen.get("traceparent", "")) is not None,
          f"w3c injected upstream ({seen.get('traceparent')})")

    # 2. No incoming context: a new trace, injected in the default format (w3c).
    get(proxy, "/default/new")
    seen = upstream.seen[-1]
    m = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", seen.get("traceparent", ""))
    if check(m is not None, f"a new trace injected as w3c ({seen.get('traceparent')})"):
        new_trace = bytes.fromhex(m.group(1))
        check(wait_for(lambda: len(receiver.kong_spans(new_trace)) == 2, 10), "its kong and kong.balancer spans")
        kong = [s for s in receiver.kong_spans(new_trace) if s.name == "kong"]
        check(kong and kong[0].parent_span_id == b"", "a root span without parent")

    # 3. Every injector at once.
    tid, sid = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    get(proxy, "/formats/x", {"traceparent": f"00-{tid}-{sid}-01"})
    h = upstream.seen[-1]
    check(re.fullmatch(rf"00-{tid}-([0-9a-f]{{16}})-01", h.get("traceparent", "")) is not None, "w3c")
    span = re.fullmatch(rf"00-{tid}-([0-9a-f]{{16}})-01", h.get("traceparent", ""))
    injected = span.group(1) if span else ""
    check(h.get("x-b3-traceid") == tid and h.get("x-b3-spanid") == injected and h.get("x-b3-sampled") == "1"
          and re.fullmatch(r"[0-9a-f]{16}", h.get("x-b3-parentspanid", "")) is not None, f"b3 {h}")
    kong_span = h.get("x-b3-parentspanid")
    check(h.get("b3") == f"{tid}-{injected}-1-{kong_span}", f"b3-single {h.get('b3')}")
    check(h.get("uber-trace-id") == f"{tid}:{injected}:{kong_span}:01", f"jaeger {h.get('uber-trace-id')}")
    check(h.get("ot-tracer-traceid") == tid and h.get("ot-tracer-spanid") == injected and h.get("ot-tracer-sampled") == "1", "ot")
    check(h.get("x-amzn-trace-id") == f"Root=1-{tid[:8]}-{tid[8:]};Parent={injected};Sampled=1", f"aws {h.get('x-amzn-trace-id')}")
    check(h.get("x-cloud-trace-context") == f"{tid}/{int(injected, 16)};o=1", f"gcp {h.get('x-cloud-trace-context')}")
    check(h.get("x-datadog-trace-id") == str(int(tid[16:], 16)) and h.get("x-datadog-parent-id") == str(int(injected, 16))
          and h.get("x-datadog-sampling-priority") == "1", "datadog")
    check(wait_for(lambda: any(s.name == "kong" and s.parent_span_id.hex() == sid for s in receiver.kong_spans(bytes.fromhex(tid))), 10),
          "the client's span id is kong's parent")

    # 4. b3 in, preserve: b3 out (64-bit trace id kept at 64 bits); the single header comes back single.
    get(proxy, "/b3/x", {"x-b3-traceid": "463ac35c9f6413ad", "x-b3-spanid": "a2fb4a1d1a96d312", "x-b3-sampled": "1"})
    h = upstream.seen[-1]
    check(h.get("x-b3-traceid") == "463ac35c9f6413ad" and h.get("x-b3-sampled") == "1" and h.get("x-b3-spanid") != "a2fb4a1d1a96d312",
          f"b3 multi preserved, 64-bit ({h.get('x-b3-traceid')})")
    check("traceparent" not in h, "preserve injects only the incoming format")
    check(wait_for(lambda: len(receiver.kong_spans(bytes(8) + bytes.fromhex("463ac35c9f6413ad"))) == 2, 10),
          "a 64-bit trace id exported zero-padded to 16 bytes")
    get(proxy, "/b3/x", {"b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"})
    h = upstream.seen[-1]
    m = re.fullmatch(r"80f198ee56343ba864fe8b2a57d3eff7-([0-9a-f]{16})-1-([0-9a-f]{16})", h.get("b3", ""))
    check(m is not None and m.group(1) != "e457b5a2e4d86bd1", f"b3-single preserved ({h.get('b3')})")
    get(proxy, "/b3/x", {"b3": "0"})
    h = upstream.seen[-1]
    check(h.get("b3", "").endswith("-0") or h.get("b3", "").count("-0-") == 1, f"b3: 0 keeps the trace unsampled ({h.get('b3')})")

    # 5. Extraction of the other formats (each continues the client's trace), injected as w3c.
    cases = [
        ({"uber-trace-id": "6e0c63257de34c92bf9efcd03927272e:1ea6f5f4a89e6d2a:0:1"}, "6e0c63257de34c92bf9efcd03927272e", "jaeger"),
        ({"x-datadog-trace-id": "1234567890123456789", "x-datadog-parent-id": "987654321", "x-datadog-sampling-priority": "1"},
         "%032x" % 1234567890123456789, "datadog"),
        ({"x-amzn-trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
         "5759e988bd862e3fe1be46a994272793", "aws"),
        ({"x-cloud-trace-context": "105445aa7843bc8bf206b12000100000/1;o=1"}, "105445aa7843bc8bf206b12000100000", "gcp"),
        ({"ot-tracer-traceid": "0000000000000000463ac35c9f6413ad", "ot-tracer-spanid": "a2fb4a1d1a96d312", "ot-tracer-sampled": "true"},
         "0000000000000000463ac35c9f6413ad", "ot"),
    ]
    for headers, expected, name in cases:
        get(proxy, "/extract/x", headers)
        check(upstream.seen[-1].get("traceparent", "").startswith(f"00-{expected}-"),
              f"{name} extracted ({upstream.seen[-1].get('traceparent')})")

    # 6. clear, header_type.
    get(proxy, "/clear/x", {"x-b3-traceid": "463ac35c9f6413ad463ac35c9f6413ad", "x-b3-spanid": "a2fb4a1d1a96d312", "x-b3-sampled": "1"})
    h = upstream.seen[-1]
    check("x-b3-traceid" not in h and "x-b3-spanid" not in h and h.get("traceparent", "").startswith("00-463ac35c9f6413ad463ac35c9f6413ad-"),
          "clear removes the extracted headers; w3c carries the trace")
    get(proxy, "/legacy/x", {"traceparent": f"00-{tid}-{sid}-01"})
    h = upstream.seen[-1]
    check(h.get("traceparent", "").startswith(f"00-{tid}-") and h.get("uber-trace-id", "").startswith(f"{tid}:"),
          "header_type jaeger: the incoming format and jaeger")

    # 7. Sampling: rate 0 exports nothing and says so upstream; a client's "not sampled" is kept.
    time.sleep(0.5)
    before = len(receiver.kong_spans())
    code, headers, _ = get(proxy, "/unsampled/x")
    h = upstream.seen[-1]
    check(h.get("traceparent", "").endswith("-00"), f"rate 0: not sampled upstream ({h.get('traceparent')})")
    lower = {k.lower(): v for k, v in headers.items()}
    check(re.fullmatch(r"[0-9a-f]{32}", lower.get("x-trace-id", "")) is not None and h.get("traceparent", "").split("-")[1:2] == [lower.get("x-trace-id")],
          "http_response_header_for_traceid names the trace")
    get(proxy, "/default/x", {"traceparent": f"00-{'1' * 32}-{sid}-00"})
    check(upstream.seen[-1].get("traceparent", "").endswith("-00"), "the client's unsampled flag is kept")
    time.sleep(1)
    check(not receiver.kong_spans(bytes.fromhex("1" * 32)) and len(receiver.kong_spans()) == before,
          "unsampled traces export nothing")

    # 8. A request the access phase refuses is traced too; http_response_header_for_traceid on proxied answers.
    code, headers, _ = get(proxy, "/auth/x", {"traceparent": f"00-{'2' * 32}-{sid}-01"})
    check(code == 401, f"key-auth refuses ({code})")
    check(wait_for(lambda: any(attributes(s.attributes).get("http.status_code") == 401 for s in receiver.kong_spans(bytes.fromhex("2" * 32))), 10),
          "a refused request's span, with its 401")
    refused = [s for s in receiver.kong_spans(bytes.fromhex("2" * 32)) if s.name == "kong"]
    events = [(e.name, attributes(e.attributes)) for e in refused[0].events] if refused else []
    check(events == [("kong.access.plugin.key-auth", {"kong.decision": "auth_failed", "http.status_code": 401})],
          f"the refusing plugin as a span event ({events})")
    code, headers, _ = get(proxy, "/traceid/x")
    lower = {k.lower(): v for k, v in headers.items()}
    check(upstream.seen[-1].get("traceparent", "").split("-")[1:2] == [lower.get("x-trace-id")], "the response names the trace sent upstream")

    # 9. Retries: a balancer span per try, the failed one an error.
    multi = []
    for i in range(6):
        code, headers, _ = get(proxy, "/retry/x", {"traceparent": f"00-{'%032x' % (0x3000 + i)}-{sid}-01"})
        check(code == 200, f"retried request answered ({code})")
    def retried():
        found = []
        for i in range(6):
            spans = [s for s in receiver.kong_spans(bytes.fromhex("%032x" % (0x3000 + i))) if s.name == "kong.balancer"]
            if len(spans) == 2:
                found.append(sorted(spans, key=lambda s: attributes(s.attributes)["try_count"]))
        multi[:] = found
        return bool(found)
    if check(wait_for(retried, 10), "a request with two tries has two balancer spans"):
        first, second = multi[0]
        check(first.status.code == 2 and attributes(first.attributes).get("net.peer.port") == float(dead_port(first)),
              "the failed try: error status, the dead target")
        check(second.status.code != 2 and attributes(second.attributes).get("try_count") == 2.0, "the second try succeeded")

    # 10. logs_endpoint: the request's record, tied to its trace.
    get(proxy, "/logs/x", {"traceparent": f"00-{'4' * 32}-{sid}-01"})
    check(wait_for(lambda: any(r.trace_id == bytes.fromhex("4" * 32) for _, r in receiver.logs), 10), "a log record with the trace id")
    records = [r for _, r in receiver.logs if r.trace_id == bytes.fromhex("4" * 32)]
    if records:
        record = json.loads(records[0].body.string_value)
        kong = [s for s in receiver.kong_spans(bytes.fromhex("4" * 32)) if s.name == "kong"]
        check(record["request"]["uri"] == "/logs/x" and record["response"]["status"] == 200, "its body is Kong's log record")
        check(bool(kong) and records[0].span_id == kong[0].span_id and records[0].severity_text == "INFO", "tied to kong's span")

    # 10b. Kong's `trace_id` in every log plugin's record: the injected formats' ids.
    get(proxy, "/logged/x", {"traceparent": f"00-{'6' * 32}-{sid}-01"})
    def logged():
        with open(f"{work}/logged.log") as f:
            return [json.loads(l) for l in f if l.strip()]
    check(wait_for(lambda: len(logged()) == 1, 10), "file-log wrote the record")
    records = logged() if os.path.exists(f"{work}/logged.log") else []
    if records:
        check(records[0].get("trace_id") == {"w3c": "6" * 32, "b3": "6" * 32, "datadog": str(int("6" * 16, 16))},
              f"the record's trace_id as Kong's ({records[0].get('trace_id')})")

    # 11. The collector down: spans wait (and spool), then all arrive.
    receiver.down = True
    ids = ["%032x" % (0x5000 + i) for i in range(30)]
    for t in ids:
        get(proxy, "/default/outage", {"traceparent": f"00-{t}-{sid}-01"})
    time.sleep(1.5)
    failed = metric(status, 'argus_log_batches_failed_total{sink="opentelemetry"')
    check(failed >= 1, f"failed batches counted ({failed})")
    receiver.down = False
    check(wait_for(lambda: all(len(receiver.kong_spans(bytes.fromhex(t))) == 2 for t in ids), 30),
          f"every span of the outage delivered ({sum(len(receiver.kong_spans(bytes.fromhex(t))) for t in ids)} of {2 * len(ids)})")
    text = urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read().decode()
    def outcome(name):
        return sum(float(l.rpartition(" ")[2]) for l in text.splitlines()
                   if l.startswith('argus_log_records_total{sink="opentelemetry"') and f'outcome="{name}"' in l)
    check(outcome("sent") >= len(ids), f"sent records (one per request) on /metrics ({outcome('sent')})")
    check(outcome("dropped") == 0 and outcome("without_detail") == 0, "nothing dropped, no detail missing")
    check(metric(status, 'argus_log_spool_records{sink="opentelemetry"') == 0, "the spool drained")


def dead_port(span):
    return attributes(span.attributes).get("net.peer.port")


if __name__ == "__main__":
    sys.exit(main())
