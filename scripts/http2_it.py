#!/usr/bin/env python3
"""HTTP/2 to clients through Argus, end to end, with real peers: curl (--http2,
--http2-prior-knowledge), h2load (Debian's nghttp2-client) and Debian's python3-h2 where frames
must be sent by hand.

Argus (argv[1]) runs with a plain listener flagged `http2` (h2c by prior knowledge beside
HTTP/1.1), a TLS listener flagged `http2` (h2 by ALPN) and a TLS listener without the flag, in
front of an HTTP/1.1 upstream. Checked: requests and answers both ways (headers, query, bodies
with and without content-length, 3 MB up, 1 MB down, chunked responses), Kong's error bodies and
plugins on streams (404, key-auth 401, rate-limiting 429), multiplexing under h2load with one
event per stream, and the defences — malformed header blocks, CR/LF in values, rapid reset,
CONTINUATION flood, PING flood, too many streams, an oversized header list, a bad preface, a
client reset mid-response (499), the idle timeout — each answered by RST_STREAM or GOAWAY, counted
on /metrics, never reaching the upstream, and with no connection or descriptor left behind.
Prints "N passed, M failed".
"""
import collections
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import http.server
import urllib.request

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, finish, free_port, wait_for  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check
SEEN = []  # paths the upstream was asked for


class Upstream(http.server.BaseHTTPRequestHandler):
    """Answers JSON with the path, the headers and the body's length (read whole, chunked too);
    `/big` is 1 MB, `/chunked` a chunked body, `/slow` answers after 2 s."""
    protocol_version = "HTTP/1.1"

    def respond(self):
        SEEN.append(self.path)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            size = 0
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
                size += len(self.rfile.read(n))
                self.rfile.readline()
        else:
            size = len(self.rfile.read(int(self.headers.get("Content-Length", "0") or 0)))
        if "/slow" in self.path:
            time.sleep(2)
        if "/bighead" in self.path:
            self.send_response(200)
            self.send_header("X-Big", "b" * 20000)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        if "/big" in self.path:
            return self.send(b"x" * 1_000_000, "application/octet-stream")
        if "/chunked" in self.path:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(5):
                self.wfile.write(b"5\r\nhello\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        body = json.dumps({"path": self.path, "size": size, "headers": {k.lower(): v for k, v in self.headers.items()}})
        self.send(body.encode(), "application/json")

    def send(self, body, kind):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if "/slow" in self.path:
            # (the many slow answers leave no keep-alive connections behind: the descriptor count stays comparable)
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = respond

    def do_HEAD(self):
        SEEN.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.end_headers()

    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass


def curl(*args):
    out = subprocess.run(["curl", "-s", "--max-time", "20", *args], capture_output=True, timeout=30)
    return out.stdout


def metric(status, name):
    """The sum of a family's series (all labels) or of the series whose text starts with `name`."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        if series == name or series.startswith(name + "{") or ("{" in name and series == name):
            total += float(value)
    return total


class H2:
    """A client connection driven by hand with python3-h2 (outbound checks off, so that invalid
    blocks can be sent)."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["h2"])
            self.sock = context.wrap_socket(self.sock)
        config = h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8", validate_outbound_headers=False,
            normalize_outbound_headers=False, validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()
        self.events = []

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def raw(self, data):
        self.sock.sendall(data)

    def pump(self, until, timeout=5):
        """Reads until `until(events)` is true, the connection ends, or the timeout."""
        deadline = time.time() + timeout
        while time.time() < deadline and not until(self.events):
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                break
            if not data:
                self.events.append("EOF")
                break
            try:
                for event in self.conn.receive_data(data):
                    self.events.append(event)
                    if isinstance(event, h2.events.DataReceived):
                        self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                self.flush()
            except Exception as error:  # a GOAWAY h2 itself objects to still ends the connection
                self.events.append(error)
                break
        return self.events

    def request(self, path, method="GET", headers=(), body=None, stream=None):
        stream = stream or self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream, [(":method", method), (":path", path), (":scheme", "http"),
                                        (":authority", "localhost"), *headers], end_stream=body is None)
        self.flush()
        while body is not None:
            room = min(self.conn.local_flow_control_window(stream), self.conn.max_outbound_frame_size, len(body))
            if room == 0 and body:
                seen = len(self.events)
                self.pump(lambda ev: any(isinstance(e, h2.events.WindowUpdated) for e in ev[seen:]), 5)
                if len(self.events) == seen:
                    raise RuntimeError(f"no window for stream {stream}")
                continue
            self.conn.send_data(stream, body[:room], end_stream=room == len(body))
            self.flush()
            body = body[room:] if room < len(body) else None
        return stream

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def ended(stream):
    return lambda events: any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == stream for e in events)


def goaway(events):
    return any(isinstance(e, h2.events.ConnectionTerminated) or e == "EOF" for e in events)


def raw_goaway(sock, timeout=5):
    """Reads a connection to its end and returns the error code of the GOAWAY in it (None if none,
    or if the connection did not end)."""
    frames, ended = read_frames(sock, timeout, with_end=True)
    goaways = [payload for kind, _, _, payload in frames if kind == 7 and len(payload) >= 8]
    return int.from_bytes(goaways[0][4:8], "big") if goaways and ended else None


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def basics(proxy, tls, tls_plain, status):
    out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-D", "-", f"http://127.0.0.1:{proxy}/echo/a?x=1"],
                         capture_output=True, timeout=20).stdout.decode()
    head, _, body = out.partition("\r\n\r\n")
    check(head.startswith("HTTP/2 200"), f"h2c prior knowledge answers HTTP/2 200 ({head[:40]!r})")
    check("connection:" not in head.lower() and "x-kong-request-id:" in head, "an h2 response carries no connection field, and Kong's headers")
    got = json.loads(body)
    check(got["path"] == "/a?x=1", f"path and query reach the upstream ({got['path']})")
    check(got["headers"].get("x-forwarded-proto") == "http" and got["headers"].get("x-forwarded-host") == "127.0.0.1",
          "the :authority is the request's host (X-Forwarded-Host)")
    version = curl("-k", "--http2", "-o", "/dev/null", "-w", "%{http_version}", f"https://127.0.0.1:{tls}/echo/").decode()
    check(version == "2", f"h2 by ALPN on the TLS listener flagged http2 ({version})")
    version = curl("-k", "--http2", "-o", "/dev/null", "-w", "%{http_version}", f"https://127.0.0.1:{tls_plain}/echo/").decode()
    check(version == "1.1", f"HTTP/1.1 on a TLS listener without http2 ({version})")
    version = curl("--http1.1", "-o", "/dev/null", "-w", "%{http_version}", f"http://127.0.0.1:{proxy}/echo/").decode()
    check(version == "1.1", f"HTTP/1.1 still served on the h2c listener ({version})")
    got = json.loads(curl("-k", "--http2", "-H", "cookie: a=1", "-H", "cookie: b=2", f"https://127.0.0.1:{tls}/echo/c"))
    check(got["headers"].get("cookie") == "a=1; b=2", f"cookie fields joined with '; ' ({got['headers'].get('cookie')})")
    check(got["headers"].get("x-forwarded-proto") == "https", "X-Forwarded-Proto https over h2")

    with tempfile.NamedTemporaryFile() as f:
        f.write(os.urandom(3_000_000))
        f.flush()
        got = json.loads(curl("--http2-prior-knowledge", "--data-binary", f"@{f.name}", f"http://127.0.0.1:{proxy}/echo/up"))
        check(got["size"] == 3_000_000, f"a 3 MB upload with content-length arrives whole ({got['size']})")
        got = json.loads(curl("-k", "--http2", "--data-binary", f"@{f.name}", f"https://127.0.0.1:{tls}/echo/up"))
        check(got["size"] == 3_000_000, "the same over TLS")
    c = H2(proxy)
    stream = c.request("/echo/nolength", method="POST", body=b"z" * 200_000)
    events = c.pump(ended(stream), 10)
    body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
    got = json.loads(body) if body else {}
    check(got.get("size") == 200_000 and got["headers"].get("transfer-encoding") == "chunked",
          f"a body without content-length goes chunked to the upstream ({got.get('size')})")
    c.close()
    check(len(curl("--http2-prior-knowledge", f"http://127.0.0.1:{proxy}/echo/big")) == 1_000_000, "a 1 MB download over h2c")
    check(len(curl("-k", "--http2", f"https://127.0.0.1:{tls}/echo/big")) == 1_000_000, "a 1 MB download over h2")
    check(curl("--http2-prior-knowledge", f"http://127.0.0.1:{proxy}/echo/chunked") == b"hello" * 5, "a chunked response's body as DATA")
    head = curl("--http2-prior-knowledge", "-I", f"http://127.0.0.1:{proxy}/echo/big").decode()
    check(head.startswith("HTTP/2 200") and "content-length: 1000000" in head, "HEAD keeps the length, sends no body")

    out = curl("--http2-prior-knowledge", "-w", "\n%{http_code}", f"http://127.0.0.1:{proxy}/nowhere").decode()
    check(out.endswith("\n404") and "no Route matched" in out, "no route: Kong's 404 body over h2")
    out = curl("--http2-prior-knowledge", "-w", "\n%{http_code}", f"http://127.0.0.1:{proxy}/secure").decode()
    check(out.endswith("\n401") and "No API key found" in out, "key-auth's 401 over h2")
    out = curl("--http2-prior-knowledge", "-H", "apikey: secret", "-w", "\n%{http_code}", f"http://127.0.0.1:{proxy}/secure").decode()
    check(out.endswith("\n200"), "key-auth passes with the key over h2")
    codes = [curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{proxy}/limited").decode()
             for _ in range(3)]
    check(codes == ["200", "200", "429"], f"rate-limiting's 429 over h2 ({codes})")

    time.sleep(1)  # (the events of the requests above reach the counters first)
    before = metric(status, "kong_http_requests_total")
    streams_before = metric(status, "argus_http2_streams_total")
    out = subprocess.run(["h2load", "-n", "1000", "-c", "4", "-m", "32", f"http://127.0.0.1:{proxy}/echo/load"],
                         capture_output=True, timeout=60).stdout.decode()
    check("1000 succeeded" in out and "1000 2xx" in out, "h2load: 1000 requests on 4 connections, 32 streams each, all 2xx")
    wait_for(lambda: metric(status, "kong_http_requests_total") - before >= 1000, 5)
    after = metric(status, "kong_http_requests_total")
    check(after - before == 1000, f"one request event per stream ({after - before})")
    check(metric(status, "argus_http2_streams_total") - streams_before == 1000, "argus_http2_streams_total counts them")


def flow(proxy, status):
    """The protocol paths a browser or curl seldom takes: a client with a 1 KiB stream window
    (every response byte sent as the client gives window back), a response head larger than a
    frame (CONTINUATION), padded and prioritised HEADERS, and request trailers."""
    c = H2(proxy)
    c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1024})
    c.flush()
    streams = [c.request("/echo/big") for _ in range(2)]
    events = c.pump(lambda ev: all(ended(s)(ev) for s in streams) or goaway(ev), 30)
    sizes = [sum(len(e.data) for e in events if isinstance(e, h2.events.DataReceived) and e.stream_id == s) for s in streams]
    errors = [e for e in events if isinstance(e, Exception)]
    check(sizes == [1_000_000, 1_000_000] and not errors and not goaway(events),
          f"two 1 MB downloads through a 1 KiB stream window, within the window ({sizes}, {errors[:1]})")
    c.close()

    # A client that gives no window: the answer waits, then the connection is closed (nginx's
    # send_timeout; --keepalive-timeout 2 here).
    c = H2(proxy)
    c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    c.flush()
    stream = c.request("/echo/no-window")
    started = time.time()
    events = c.pump(lambda ev: "EOF" in ev, 10)
    waited = time.time() - started
    got_data = any(isinstance(e, h2.events.DataReceived) for e in events)
    check("EOF" in events and not got_data and 1.5 < waited < 6,
          f"a response left waiting for window closes the connection after the send timeout ({waited:.1f} s)")
    check(metric(status, 'argus_http2_connection_errors_total{reason="send_timeout"}') >= 1, "the send timeout counted")
    c.close()

    c = H2(proxy)
    stream = c.request("/echo/bighead")
    events = c.pump(ended(stream), 10)
    heads = [dict(e.headers) for e in events if isinstance(e, h2.events.ResponseReceived)]
    check(heads and len(heads[0].get("x-big", "")) == 20000, "a 20 kB response head arrives whole (HEADERS and CONTINUATION)")
    c.close()

    # (raw frames: python3-h2 would not send these)
    sock = socket.create_connection(("127.0.0.1", proxy), timeout=5)
    block = hpack.Encoder().encode([(":method", "GET"), (":path", "/echo/padded"), (":scheme", "http"), (":authority", "x")])
    # HEADERS with PADDED and PRIORITY: pad length 5, then stream dependency and weight, the block, the padding.
    payload = bytes([5]) + struct.pack(">I", 0) + bytes([15]) + block + b"\0" * 5
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 0x1 | 0x4 | 0x8 | 0x20, 1, payload)
                 + frame(2, 0, 3, struct.pack(">I", 1) + bytes([7])))
    frames = read_frames(sock, 3)
    answered = any(kind == 1 and stream == 1 for kind, _, stream, _ in frames) and \
        any(stream == 1 and flags & 0x1 for kind, flags, stream, _ in frames if kind in (0, 1))
    errors = [payload for kind, _, _, payload in frames if kind == 7 and payload[4:8] != b"\0\0\0\0"]  # (NO_ERROR: the idle close)
    check(answered and not errors, "padded, prioritised HEADERS and a PRIORITY frame are taken")
    sock.close()

    c = H2(proxy)
    stream = c.conn.get_next_available_stream_id()
    c.conn.send_headers(stream, [(":method", "POST"), (":path", "/echo/trailers"), (":scheme", "http"), (":authority", "x")])
    c.conn.send_data(stream, b"abc")
    c.conn.send_headers(stream, [("x-checksum", "1")], end_stream=True)
    c.flush()
    events = c.pump(ended(stream), 10)
    body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
    got = json.loads(body) if body else {}
    check(got.get("size") == 3 and got.get("headers", {}).get("transfer-encoding") == "chunked",
          f"a request with trailers goes chunked to the upstream ({got.get('size')})")
    c.close()


def defences(proxy, tls, status, file_log):
    # Malformed blocks: refused with RST_STREAM, never forwarded.
    for name, headers in [("connection", [("connection", "keep-alive")]), ("upper", [("X-Upper", "1")]),
                          ("crlf", [("x-evil", "a\r\nx-injected: 1")]), ("te", [("te", "gzip")])]:
        c = H2(proxy)
        stream = c.request(f"/echo/malformed-{name}", headers=headers)
        events = c.pump(lambda ev: ended(stream)(ev) or goaway(ev), 5)
        reset = any(isinstance(e, h2.events.StreamReset) and e.stream_id == stream for e in events) or goaway(events)
        check(reset, f"a malformed block ({name}) is refused with RST_STREAM or GOAWAY")
        c.close()
    time.sleep(0.3)
    check(not any("malformed" in p for p in SEEN), "no malformed request reached the upstream")
    check(not any("injected" in json.dumps(p) for p in SEEN), "nothing injected reached the upstream")
    check(metric(status, "argus_http2_stream_errors_total") + metric(status, "argus_http2_connection_errors_total") >= 4,
          "malformed blocks counted on /metrics")

    # Rapid reset (CVE-2023-44487): streams opened and reset in a loop.
    c = H2(proxy)
    for _ in range(400):
        stream = c.conn.get_next_available_stream_id()
        c.conn.send_headers(stream, [(":method", "GET"), (":path", "/echo/rapid"), (":scheme", "http"), (":authority", "x")])
        c.conn.reset_stream(stream)
        try:
            c.flush()
        except OSError:
            break
    events = c.pump(lambda ev: "EOF" in ev, 5)
    check(goaway(events) and "EOF" in events, "rapid reset: the connection gets GOAWAY and is closed")
    check(metric(status, 'argus_http2_connection_errors_total{reason="rapid_reset"}') >= 1, "rapid reset counted")
    c.close()

    # CONTINUATION flood: one header block cut into 1-byte CONTINUATION frames.
    c = H2(proxy)
    block = hpack.Encoder().encode([(":method", "GET"), (":path", "/echo/continuation"), (":scheme", "http"),
                                    (":authority", "x")] + [(f"x-h{i}", "v" * 20) for i in range(40)])
    data = frame(1, 0x1, 1, block[:1]) + b"".join(frame(9, 0, 1, block[i:i + 1]) for i in range(1, len(block)))
    try:
        c.raw(data)
    except OSError:
        pass
    code = raw_goaway(c.sock)
    check(code is not None and code != 0, f"CONTINUATION flood: the connection gets GOAWAY ({code}) and is closed")
    check(metric(status, 'argus_http2_connection_errors_total{reason="continuation_flood"}') >= 1, "CONTINUATION flood counted")
    c.close()

    # PING flood.
    c = H2(proxy)
    try:
        c.raw(b"".join(frame(6, 0, 0, struct.pack(">Q", i)) for i in range(2000)))
    except OSError:
        pass
    code = raw_goaway(c.sock)
    check(code == 11, f"PING flood: the connection gets GOAWAY ENHANCE_YOUR_CALM ({code})")
    check(metric(status, 'argus_http2_connection_errors_total{reason="control_frame_flood"}') >= 1, "PING flood counted")
    c.close()

    # More streams than SETTINGS_MAX_CONCURRENT_STREAMS (128).
    c = H2(proxy)
    c.pump(lambda ev: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in ev), 3)
    # send past the advertised limit on purpose (python3-h2 would refuse to)
    c.conn.remote_settings._settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = collections.deque([1000])
    streams = [c.request("/echo/slow") for _ in range(140)]
    events = c.pump(lambda ev: all(ended(s)(ev) for s in streams) or goaway(ev), 15)
    refused = {e.stream_id for e in events if isinstance(e, h2.events.StreamReset) and e.error_code == 7}
    answered = {e.stream_id for e in events if isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status") == "200"}
    # As nginx: the streams past the limit are refused (RST_STREAM REFUSED_STREAM, RFC 9113 §5.1.2),
    # the connection and the streams within the limit go on.
    check(refused == set(streams[128:]) and answered == set(streams[:128]) and not goaway(events),
          f"streams past SETTINGS_MAX_CONCURRENT_STREAMS are refused, the first 128 answered ({len(refused)} refused, {len(answered)} answered)")
    check(metric(status, 'argus_http2_stream_errors_total{reason="too_many_streams"}') >= 12, "the refusals counted")
    c.close()

    # A header list over SETTINGS_MAX_HEADER_LIST_SIZE.
    c = H2(proxy)
    stream = c.request("/echo/large-header", headers=[("x-large", "v" * 40000)])
    events = c.pump(lambda ev: ended(stream)(ev) or goaway(ev), 5)
    statuses = [dict(e.headers).get(":status") for e in events if isinstance(e, h2.events.ResponseReceived)]
    check(goaway(events) or any(isinstance(e, h2.events.StreamReset) for e in events) or statuses in (["431"], ["400"]),
          f"a header list over the limit is refused ({statuses})")
    c.close()
    check(not any("large-header" in p for p in SEEN), "the oversized request did not reach the upstream")

    # A bad preface after ALPN h2.
    c = socket.create_connection(("127.0.0.1", tls), timeout=5)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    s = context.wrap_socket(c)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\0" * 64)
    data = b""
    try:
        while True:
            more = s.recv(4096)
            if not more:
                break
            data += more
    except (socket.timeout, ssl.SSLError, OSError):
        pass
    s.close()
    check(b"\x07" in data[:64] or data == b"", "a bad preface gets GOAWAY and a close")
    check(metric(status, 'argus_http2_connection_errors_total{reason="bad_preface"}') >= 1, "the bad preface counted")

    # A client reset mid-response: 499 in the log, counted.
    c = H2(proxy)
    stream = c.request("/echo/slow-cancelled")
    time.sleep(0.5)
    c.conn.reset_stream(stream, error_code=8)
    c.flush()
    time.sleep(0.3)
    c.close()
    check(wait_for(lambda: metric(status, 'argus_http2_stream_resets_total{by="client"}') >= 1, 5), "a client's RST_STREAM counted")
    check(wait_for(lambda: any('"status":499' in line and "slow-cancelled" in line for line in open(file_log)), 10),
          "the cancelled stream is logged with status 499")

    # The idle timeout (--keepalive-timeout 2): GOAWAY NO_ERROR, then the close.
    c = H2(proxy)
    stream = c.request("/echo/idle")
    c.pump(ended(stream), 5)
    started = time.time()
    events = c.pump(goaway, 8)
    terminated = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    check(terminated and terminated[0].error_code == 0 and time.time() - started < 6, "an idle connection gets GOAWAY NO_ERROR")
    check(metric(status, "argus_http2_idle_closes_total") >= 1, "idle closes counted")
    c.close()


def read_frames(sock, timeout=10, with_end=False):
    """Reads a connection to its end (or the timeout); its frames as (type, flags, stream,
    payload), and with `with_end` whether the connection ended."""
    data = b""
    ended = False
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            more = sock.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not more:
            ended = True
            break
        data += more
    out, at = [], 0
    while at + 9 <= len(data):
        length = int.from_bytes(data[at:at + 3], "big")
        out.append((data[at + 3], data[at + 4], int.from_bytes(data[at + 5:at + 9], "big") & 0x7FFFFFFF, data[at + 9:at + 9 + length]))
        at += 9 + length
    return (out, ended) if with_end else out


def drain(argus, proxy):
    """SIGTERM with a stream in flight: GOAWAY NO_ERROR at once, the stream still answered, then the
    exit. (Read as raw frames: python3-h2 refuses frames that follow a GOAWAY.)"""
    c = H2(proxy)
    c.pump(lambda ev: any(isinstance(e, h2.events.SettingsAcknowledged) for e in ev), 3)
    stream = c.request("/echo/slow-drain")
    time.sleep(0.5)
    argus.send_signal(signal.SIGTERM)
    frames = read_frames(c.sock, 15)
    goaways = [f for f in frames if f[0] == 7]
    check(goaways and int.from_bytes(goaways[0][3][4:8], "big") == 0, "shutdown: the client gets GOAWAY NO_ERROR")
    answered = any(f[0] == 1 and f[2] == stream for f in frames) and any(f[2] == stream and f[1] & 0x1 for f in frames)
    check(answered, "shutdown: the stream in flight is answered and ended after the GOAWAY")
    try:
        code = argus.wait(timeout=15)
    except subprocess.TimeoutExpired:
        code = None
    check(code == 0, f"argus exits 0 after the drain ({code})")
    c.close()


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="argus-h2-it-")
    up_port, proxy, tls, tls_plain, admin, status = (free_port() for _ in range(6))
    upstream = QuietServer(("127.0.0.1", up_port), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    file_log = f"{work}/h2.log"
    config = {
        "_format_version": "3.0",
        "services": [
            {"name": "echo", "url": f"http://127.0.0.1:{up_port}", "routes": [{"name": "echo", "paths": ["/echo"]}]},
            {"name": "secure", "url": f"http://127.0.0.1:{up_port}", "routes": [{"name": "secure", "paths": ["/secure"], "plugins": [{"name": "key-auth"}]}]},
            {"name": "limited", "url": f"http://127.0.0.1:{up_port}",
             "routes": [{"name": "limited", "paths": ["/limited"], "plugins": [{"name": "rate-limiting", "config": {"minute": 2, "policy": "local"}}]}]},
        ],
        "consumers": [{"username": "u", "keyauth_credentials": [{"key": "secret"}]}],
        "plugins": [{"name": "file-log", "config": {"path": file_log}}, {"name": "prometheus", "config": {"status_code_metrics": True}}],
    }
    with open(f"{work}/kong.json", "w") as f:
        json.dump(config, f)
    log = open(f"{work}/argus.log", "w")
    argus = subprocess.Popen(
        [ARGUS, "start", "--config", f"{work}/kong.json",
         "--proxy-listen", f"127.0.0.1:{proxy} http2, 127.0.0.1:{tls} http2 ssl, 127.0.0.1:{tls_plain} ssl",
         "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}", "--data-dir", f"{work}/data",
         "--workers", "2", "--keepalive-timeout", "2"], stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200, 30, "argus")
        if check(ready, "argus started"):
            fds_before = len(os.listdir(f"/proc/{argus.pid}/fd"))
            basics(proxy, tls, tls_plain, status)
            flow(proxy, status)
            defences(proxy, tls, status, file_log)
            check(wait_for(lambda: metric(status, "argus_http2_connections_open") == 0, 10), "no HTTP/2 connection left open")
            time.sleep(1)
            fds_after = len(os.listdir(f"/proc/{argus.pid}/fd"))
            check(fds_after <= fds_before + 8, f"no descriptor leaked ({fds_before} before, {fds_after} after)")
        check(argus.poll() is None, "argus is still running")
        if ready:
            drain(argus, proxy)
    except Exception as error:  # a failure mid-way is one failed check, with its reason
        check(False, f"the scenario ran to its end: {error!r}")
    finally:
        upstream.shutdown()
        finish([argus], work, TALLY)
        print(f"http2_it took {time.time() - started:.1f} s")
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
