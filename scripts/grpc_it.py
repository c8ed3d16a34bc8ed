#!/usr/bin/env python3
"""gRPC through Argus, end to end, with grpcio (Debian's python3-grpcio) as client and server.

Argus (argv[1]) listens with an h2c listener and a TLS listener (both flagged `http2`); behind it a
grpcio server over h2c (a `grpc` service) and one over TLS (a `grpcs` service). The calls are raw
bytes on generic handlers (no generated code): unary, server-streaming, client-streaming and
bidirectional (each reply sent before the next request, so both directions stream at once),
4 MB messages both ways, metadata and trailing metadata relayed, the upstream's own error
statuses relayed, a client deadline cancelling the upstream call, many calls multiplexed on few
upstream connections. Gateway answers as gRPC errors (Kong's mapping): no route (NOT_FOUND),
key-auth (UNAUTHENTICATED), rate-limiting (RESOURCE_EXHAUSTED), an upstream that refuses
connections (INTERNAL). Kong's checks on gRPC routes: a non-gRPC request gets 415, gRPC over
HTTP/1.1 gets 426, gRPC over plain HTTP to a grpcs-only route gets status 1. Metrics and the
file-log record count each call. Prints "N passed, M failed".
"""
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent import futures

import grpc
import h2.config
import h2.connection
import h2.events

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, finish, free_port, wait_for  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check
CANCELLED = threading.Event()
BIG = 4 * 1024 * 1024
OPTIONS = [("grpc.max_receive_message_length", 16 * 1024 * 1024), ("grpc.max_send_message_length", 16 * 1024 * 1024)]


def unary(request, context):
    seen = dict(context.invocation_metadata())
    context.send_initial_metadata((("x-upstream", "yes"),))
    context.set_trailing_metadata((("x-trailer", "t1"), ("x-saw-client", seen.get("x-client", "")),
                                   ("x-saw-forwarded-for", seen.get("x-forwarded-for", ""))))
    if request == b"big":
        return b"b" * BIG
    return b"echo:" + request[:64] + b":" + str(len(request)).encode()


def server_stream(request, context):
    for i in range(int(request)):
        yield f"m{i}".encode()


def client_stream(requests, context):
    sizes = [len(r) for r in requests]
    return f"{len(sizes)}:{sum(sizes)}".encode()


def bidi(requests, context):
    for r in requests:
        yield r[::-1]


def fail(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")


def slow(request, context):
    for _ in range(100):
        if not context.is_active():
            CANCELLED.set()
            return b""
        time.sleep(0.05)
    return b"late"


METHODS = {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
    "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
    "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    "Fail": grpc.unary_unary_rpc_method_handler(fail),
    "Slow": grpc.unary_unary_rpc_method_handler(slow),
}
HANDLERS = grpc.method_handlers_generic_handler("argus.Test", METHODS)
# the TLS upstream also answers as argus.TestTLS (gRPC routes can not strip a path)
TLS_HANDLERS = grpc.method_handlers_generic_handler("argus.TestTLS", METHODS)


class BadUpstream:
    """An HTTP/2 upstream written with python3-h2 that misbehaves by path: an invalid `:status`
    (`Status`), a reset before any answer (`Reset`), a response cut off with the connection
    (`Cut`), a GOAWAY with an error (`GoAway`), a DATA frame on stream 0 (`Frame`)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        config = h2.config.H2Configuration(client_side=False, validate_outbound_headers=False, header_encoding="utf-8")
        h = h2.connection.H2Connection(config=config)
        h.initiate_connection()
        try:
            conn.sendall(h.data_to_send())
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for event in h.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        path = dict(event.headers).get(":path", "")
                        stream = event.stream_id
                        if path.endswith("/Status"):
                            h.send_headers(stream, [(":status", "abc"), ("content-type", "application/grpc")], end_stream=True)
                        elif path.endswith("/Reset"):
                            h.reset_stream(stream, error_code=7)
                        elif path.endswith("/Cut"):
                            h.send_headers(stream, [(":status", "200"), ("content-type", "application/grpc")])
                            h.send_data(stream, b"\x00\x00\x00\x00\x10abc")
                            conn.sendall(h.data_to_send())
                            conn.close()
                            return
                        elif path.endswith("/Frame"):
                            conn.sendall(h.data_to_send() + b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")  # DATA on stream 0
                        elif path.endswith("/GoAway"):
                            h.close_connection(error_code=1)
                            conn.sendall(h.data_to_send())
                            conn.close()
                            return
                    if isinstance(event, h2.events.DataReceived):
                        h.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                conn.sendall(h.data_to_send())
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.sock.close()


def bad_upstreams(proxy, status):
    """Upstreams that break HTTP/2 or leave mid-answer: the call fails with a gRPC error, quickly,
    and the gateway stays up."""
    channel = grpc.insecure_channel(f"127.0.0.1:{proxy}", options=OPTIONS)
    for method, expected in [("Status", grpc.StatusCode.INTERNAL), ("Reset", grpc.StatusCode.INTERNAL),
                             ("Cut", grpc.StatusCode.INTERNAL), ("GoAway", grpc.StatusCode.INTERNAL),
                             ("Frame", grpc.StatusCode.INTERNAL)]:
        began = time.time()
        code, details = code_of(channel.unary_unary(f"/argus.Bad/{method}"), b"x", timeout=10)
        check(code == expected and time.time() - began < 5, f"an upstream that answers {method}: {expected} at once ({code}, {details!r})")
    code, details = code_of(channel.unary_unary("/argus.H1/Call"), b"x", timeout=10)
    check(code == grpc.StatusCode.INTERNAL, f"an upstream that speaks HTTP/1.1 only: INTERNAL ({code}, {details!r})")
    check(metric(status, "argus_http2_upstream_protocol_errors_total") >= 1, "the upstream's protocol errors are counted")
    check(metric(status, 'argus_http2_upstream_stream_resets_total{by="upstream"}') >= 1, "the upstream's resets are counted")
    reply = channel.unary_unary("/argus.Test/Unary")(b"after", timeout=10)
    check(reply.startswith(b"echo:after"), "calls still go through after the bad upstreams")
    channel.close()


def make_cert(work):
    cert, key = f"{work}/localhost.crt", f"{work}/localhost.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=60)
    return open(cert).read(), open(key).read()


def metric(status, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        if series == name or series.startswith(name + "{") or (name.endswith("}") and series == name):
            total += float(value)
    return total


def labelled(status, family, **labels):
    """The value of the series of `family` whose labels include `labels`."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(family + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rpartition(" ")[2])
    return total


def code_of(call, *args, **kwargs):
    """The status code and details a call ends with."""
    try:
        call(*args, **kwargs)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        return error.code(), error.details()


def calls(channel, prefix="argus.Test"):
    return {
        "unary": channel.unary_unary(f"/{prefix}/Unary"),
        "server": channel.unary_stream(f"/{prefix}/ServerStream"),
        "client": channel.stream_unary(f"/{prefix}/ClientStream"),
        "bidi": channel.stream_stream(f"/{prefix}/Bidi"),
        "fail": channel.unary_unary(f"/{prefix}/Fail"),
        "slow": channel.unary_unary(f"/{prefix}/Slow"),
    }


def streaming(c, label):
    reply, call = c["unary"].with_call(b"hello", metadata=(("x-client", "c1"),), timeout=10)
    check(reply == b"echo:hello:5", f"{label}: unary reply ({reply[:40]!r})")
    initial, trailing = dict(call.initial_metadata()), dict(call.trailing_metadata())
    check(initial.get("x-upstream") == "yes", f"{label}: the upstream's initial metadata relayed ({initial})")
    check(trailing.get("x-trailer") == "t1", f"{label}: the upstream's trailing metadata relayed ({trailing})")
    check(trailing.get("x-saw-client") == "c1", f"{label}: the client's metadata reached the upstream")
    check(trailing.get("x-saw-forwarded-for") == "127.0.0.1", f"{label}: X-Forwarded-For sent upstream ({trailing})")
    check("x-kong-upstream-latency" in initial, f"{label}: Kong's latency headers on the response")
    replies = list(c["server"](b"100", timeout=10))
    check(replies == [f"m{i}".encode() for i in range(100)], f"{label}: server streaming, 100 messages in order")
    reply = c["client"](iter([b"x" * 10_000] * 50), timeout=10)
    check(reply == b"50:500000", f"{label}: client streaming, 50 messages of 10 kB ({reply!r})")
    # bidirectional: each reply is read before the next request is sent
    outbox, answers = [], []
    ready = threading.Semaphore(0)

    def requests():
        for i in range(20):
            yield f"ping-{i}".encode()
            if not ready.acquire(timeout=5):
                return

    for answer in c["bidi"](requests(), timeout=20):
        answers.append(answer)
        ready.release()
    check(answers == [f"ping-{i}".encode()[::-1] for i in range(20)], f"{label}: bidirectional ping-pong, 20 turns ({len(answers)})")
    reply = c["unary"](b"u" * BIG, timeout=20)
    check(reply.endswith(f":{BIG}".encode()), f"{label}: a 4 MB request message ({reply[-12:]!r})")
    reply = c["unary"](b"big", timeout=20)
    check(len(reply) == BIG, f"{label}: a 4 MB response message ({len(reply)})")
    code, details = code_of(c["fail"], b"x", timeout=10)
    check(code == grpc.StatusCode.NOT_FOUND and details == "no such thing", f"{label}: the upstream's status relayed ({code}, {details!r})")
    del outbox


def gateway_answers(proxy, status, work):
    channel = grpc.insecure_channel(f"127.0.0.1:{proxy}", options=OPTIONS)
    c = calls(channel)
    code, details = code_of(channels_call(channel, "/argus.Nowhere/X"), b"x", timeout=10)
    check(code == grpc.StatusCode.NOT_FOUND and details == "NotFound", f"no route: NOT_FOUND as Kong maps 404 ({code}, {details!r})")
    secure = channels_call(channel, "/argus.Secure/Unary")
    code, details = code_of(secure, b"x", timeout=10)
    check(code == grpc.StatusCode.UNAUTHENTICATED and details == "Unauthenticated", f"key-auth without a key: UNAUTHENTICATED ({code}, {details!r})")
    code, _ = code_of(secure, b"x", metadata=(("apikey", "secret"),), timeout=10)
    check(code == grpc.StatusCode.UNIMPLEMENTED, f"key-auth with the key: through to the upstream (which has no such method: {code})")
    limited = channels_call(channel, "/argus.Limited/Unary")
    codes = [code_of(limited, b"x", timeout=10)[0] for _ in range(3)]
    check(codes[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED, f"rate-limiting: the third call RESOURCE_EXHAUSTED ({codes})")
    code, details = code_of(channels_call(channel, "/argus.Down/Unary"), b"x", timeout=10)
    check(code == grpc.StatusCode.INTERNAL and details == "An invalid response was received from the upstream server",
          f"an upstream that refuses connections: INTERNAL with nginx's 502 message ({code}, {details!r})")
    code, details = code_of(channels_call(channel, "/argus.Tls/Unary"), b"x", timeout=10)
    check(code == grpc.StatusCode.CANCELLED and details == "gRPC request matched gRPCs route",
          f"gRPC over plain HTTP to a grpcs-only route: status 1 as Kong answers ({code}, {details!r})")
    # Kong's checks for requests that are not gRPC over HTTP/2
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", f"http://127.0.0.1:{proxy}/argus.Test/Unary"], capture_output=True, text=True, timeout=20).stdout
    check(out.endswith("415") and "Non-gRPC request matched gRPC route" in out, f"a non-gRPC request to a gRPC route: 415 ({out!r})")
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-H", "content-type: application/grpc", "--data-binary", "x",
                          f"http://127.0.0.1:{proxy}/argus.Test/Unary"], capture_output=True, text=True, timeout=20).stdout
    check(out.endswith("426") and "Please use HTTP2 protocol" in out, f"gRPC over HTTP/1.1: 426 ({out!r})")
    # a client deadline: the upstream's call is cancelled (the reset travels through)
    CANCELLED.clear()
    code, _ = code_of(c["slow"], b"x", timeout=0.5)
    check(code == grpc.StatusCode.DEADLINE_EXCEEDED, f"the client's deadline ({code})")
    check(CANCELLED.wait(5), "the upstream's call was cancelled after the client's deadline")
    # many calls at once share the upstream connections
    before = metric(status, "argus_http2_upstream_connections_total")
    with futures.ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda i: c["unary"](f"n{i}".encode(), timeout=20), range(200)))
    check(all(r.startswith(b"echo:n") for r in replies), "200 concurrent unary calls answered")
    opened = metric(status, "argus_http2_upstream_connections_total") - before
    check(opened <= 4, f"the calls were streams of a few upstream connections ({opened:.0f} new)")
    channel.close()


def channels_call(channel, path):
    return channel.unary_unary(path)


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="argus-grpc-")
    cert, key = make_cert(work)
    plain = grpc.server(futures.ThreadPoolExecutor(32), options=OPTIONS)
    plain.add_generic_rpc_handlers((HANDLERS,))
    up_port = plain.add_insecure_port("127.0.0.1:0")
    plain.start()
    secure = grpc.server(futures.ThreadPoolExecutor(8), options=OPTIONS)
    secure.add_generic_rpc_handlers((HANDLERS, TLS_HANDLERS))
    up_tls = secure.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key.encode(), cert.encode())]))
    secure.start()
    bad = BadUpstream()
    h1 = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=h1.serve_forever, daemon=True).start()
    proxy, tls, admin, status, closed = free_port(), free_port(), free_port(), free_port(), free_port()
    file_log = f"{work}/requests.log"
    config = {
        "_format_version": "3.0",
        "services": [
            {"name": "grpc", "url": f"grpc://127.0.0.1:{up_port}",
             "routes": [{"name": "test", "protocols": ["grpc", "grpcs"], "paths": ["/argus.Test/"]},
                        {"name": "secure", "protocols": ["grpc"], "paths": ["/argus.Secure/"], "plugins": [{"name": "key-auth"}]},
                        {"name": "limited", "protocols": ["grpc"], "paths": ["/argus.Limited/"],
                         "plugins": [{"name": "rate-limiting", "config": {"minute": 2, "policy": "local"}}]},
                        {"name": "tls-only", "protocols": ["grpcs"], "paths": ["/argus.Tls/"]}]},
            {"name": "grpcs", "url": f"grpcs://localhost:{up_tls}",
             "routes": [{"name": "over-tls", "protocols": ["grpcs"], "paths": ["/argus.TestTLS/"]}]},
            {"name": "down", "url": f"grpc://127.0.0.1:{closed}", "routes": [{"name": "down", "protocols": ["grpc"], "paths": ["/argus.Down/"]}]},
            {"name": "bad", "url": f"grpc://127.0.0.1:{bad.port}", "retries": 1,
             "routes": [{"name": "bad", "protocols": ["grpc"], "paths": ["/argus.Bad/"]}]},
            {"name": "h1", "url": f"grpc://127.0.0.1:{h1.server_address[1]}", "retries": 0,
             "routes": [{"name": "h1", "protocols": ["grpc"], "paths": ["/argus.H1/"]}]},
        ],
        "consumers": [{"username": "u", "keyauth_credentials": [{"key": "secret"}]}],
        "certificates": [{"cert": cert, "key": key, "snis": [{"name": "localhost"}]}],
        "plugins": [{"name": "file-log", "config": {"path": file_log}}, {"name": "prometheus", "config": {"status_code_metrics": True}}],
    }
    with open(f"{work}/kong.json", "w") as f:
        json.dump(config, f)
    log = open(f"{work}/argus.log", "w")
    argus = subprocess.Popen(
        [ARGUS, "start", "--config", f"{work}/kong.json",
         "--proxy-listen", f"127.0.0.1:{proxy} http2, 127.0.0.1:{tls} http2 ssl",
         "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}", "--data-dir", f"{work}/data",
         "--workers", "2"], stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200, 30, "argus")
        if check(ready, "argus started"):
            fds_before = len(os.listdir(f"/proc/{argus.pid}/fd"))
            requests_before = metric(status, "kong_http_requests_total")
            channel = grpc.insecure_channel(f"127.0.0.1:{proxy}", options=OPTIONS)
            streaming(calls(channel), "h2c to a grpc service")
            channel.close()
            credentials = grpc.ssl_channel_credentials(root_certificates=cert.encode())
            tls_options = OPTIONS + [("grpc.ssl_target_name_override", "localhost")]
            channel = grpc.secure_channel(f"127.0.0.1:{tls}", credentials, options=tls_options)
            streaming(calls(channel), "h2 over TLS to a grpc service")
            streaming(calls(channel, "argus.TestTLS"), "h2 over TLS to a grpcs service")
            channel.close()
            gateway_answers(proxy, status, work)
            bad_upstreams(proxy, status)
            # 3 × 7 streaming checks, 11 gateway answers and cancelled calls, 200 concurrent calls
            check(wait_for(lambda: metric(status, "kong_http_requests_total") - requests_before >= 232, 10),
                  f"kong_http_requests_total counts every call ({metric(status, 'kong_http_requests_total') - requests_before:.0f} of 232)")
            check(wait_for(lambda: labelled(status, "kong_http_requests_total", service="grpc", route="test", code="200") >= 200, 10),
                  "the calls are counted on their service and route with code 200")
            check(metric(status, "argus_http2_upstream_streams_total") >= 200, "argus_http2_upstream_streams_total counts the calls")
            time.sleep(1)  # (the log exporter writes off the request path)
            records = [json.loads(line) for line in open(file_log) if line.strip()]
            grpc_records = [r for r in records if r.get("request", {}).get("uri", "").startswith("/argus.Test/Fail")]
            check(grpc_records and grpc_records[-1]["response"]["status"] == 200, "file-log has the call, HTTP status 200")
            check(grpc_records and grpc_records[-1].get("grpc", {}).get("status") == 5,
                  f"file-log's record carries the gRPC status ({grpc_records[-1].get('grpc') if grpc_records else None})")
            limited = [r for r in records if r.get("request", {}).get("uri", "").startswith("/argus.Limited/")]
            check(limited and limited[-1]["response"]["status"] == 429 and limited[-1].get("grpc", {}).get("status") == 8,
                  "a gateway answer is logged with Kong's status (429) and its gRPC status (8)")
            check(wait_for(lambda: metric(status, "argus_http2_connections_open") == 0, 10), "no client HTTP/2 connection left open")
            fds_after = len(os.listdir(f"/proc/{argus.pid}/fd"))
            check(fds_after <= fds_before + 12, f"no descriptor leaked ({fds_before} before, {fds_after} after)")
        check(argus.poll() is None, "argus is still running")
    except Exception as error:  # a failure mid-way is one failed check, with its reason
        check(False, f"the scenario ran to its end: {error!r}")
    finally:
        plain.stop(0)
        secure.stop(0)
        bad.stop()
        h1.shutdown()
        finish([argus], work, TALLY)
        print(f"grpc_it took {time.time() - started:.1f} s")
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
