#!/usr/bin/env python3
"""Kong's tcp-log, udp-log, syslog, loggly, statsd and datadog plugins through Argus, with receivers written on Python's sockets:
a TCP receiver (newline-separated JSON records, kept-alive connections), the same over TLS
(`tls: true`, a self-signed certificate made by openssl), and a UDP receiver (a datagram per
record). Checked: one record per request with Kong's fields (request, response, route, service,
client_ip, latencies), the TCP receiver taken down for a few seconds under traffic and brought
back (every record arrives, none lost), the counters on /metrics. Prints "N passed, M failed".
"""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import re
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, finish, free_port, metric, wait_for  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check


class TCPReceiver:
    """Accepts connections on `port` and keeps every newline-terminated record; `tls` wraps them."""

    def __init__(self, port, context=None):
        self.port, self.context = port, context
        self.records, self.connections = [], 0
        self.lock = threading.Lock()
        self.sock = None
        self.open = []

    def start(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        threading.Thread(target=self.accept, args=(self.sock,), daemon=True).start()

    def stop(self):
        """The receiver goes away: its listener and every connection it had."""
        for s in [self.sock] + self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.sock, self.open = None, []

    def accept(self, listener):
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            if self.context:
                try:
                    conn = self.context.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()
                    continue
            self.open.append(conn)
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        pending = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            with self.lock:
                self.records += [json.loads(line) for line in lines if line.strip()]


class UDPReceiver:
    def __init__(self, raw=False):
        self.raw = raw
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.records = []
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        while True:
            try:
                data, _ = self.sock.recvfrom(65536)
            except OSError:
                return
            self.records.append(data.decode() if self.raw else json.loads(data))


class Upstream(threading.Thread):
    daemon = True

    def __init__(self):
        super().__init__()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def run(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                status = b"404 Not Found" if b"/missing" in head.split(b"\r\n")[0] else \
                    b"500 Internal Server Error" if b"/fail" in head.split(b"\r\n")[0] else b"200 OK"
                conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")


def get(port, path):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


class UnixReceiver:
    """A local syslog socket (as /dev/log is), keeping every datagram."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.datagrams = []
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        while True:
            try:
                self.datagrams.append(self.sock.recv(65536))
            except OSError:
                return


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="argus-socketlog-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", f"{work}/r.key", "-out", f"{work}/r.crt", "-days", "2", "-subj", "/CN=receiver.test"],
                   check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{work}/r.crt", f"{work}/r.key")
    tcp = TCPReceiver(free_port())
    tcp.start()
    tls = TCPReceiver(free_port(), context)
    tls.start()
    udp = UDPReceiver()
    syslog = UnixReceiver(f"{work}/syslog.sock")
    statsd = UDPReceiver(raw=True)
    datadog = UDPReceiver(raw=True)
    loggly = UDPReceiver(raw=True)
    upstream = Upstream()
    upstream.start()
    proxy, admin, status = free_port(), free_port(), free_port()
    config = {
        "_format_version": "3.0",
        "services": [{"name": "echo", "url": f"http://127.0.0.1:{upstream.port}", "routes": [
            {"name": "tcp", "paths": ["/tcp"], "plugins": [{"name": "tcp-log", "config": {"host": "127.0.0.1", "port": tcp.port, "keepalive": 1000}}]},
            {"name": "tls", "paths": ["/tls"], "plugins": [{"name": "tcp-log", "config": {"host": "127.0.0.1", "port": tls.port, "tls": True, "tls_sni": "receiver.test"}}]},
            {"name": "udp", "paths": ["/udp"], "plugins": [{"name": "udp-log", "config": {"host": "127.0.0.1", "port": udp.port}}]},
            {"name": "statsd", "paths": ["/statsd"], "plugins": [{"name": "key-auth"},
                                                                    {"name": "statsd", "config": {"host": "127.0.0.1", "port": statsd.port}}]},
            {"name": "datadog", "paths": ["/datadog"], "plugins": [{"name": "key-auth"},
                                                                      {"name": "datadog", "config": {"host": "127.0.0.1", "port": datadog.port}}]},
            {"name": "loggly", "paths": ["/loggly"], "plugins": [{"name": "loggly", "config": {
                "host": "127.0.0.1", "port": loggly.port, "key": "K3Y", "tags": ["kong", "argus"], "log_level": "info",
                "successful_severity": "warning"}}]},
            {"name": "syslog", "paths": ["/syslog"], "plugins": [{"name": "syslog", "config": {
                "log_level": "warning", "successful_severity": "info", "client_errors_severity": "warning",
                "server_errors_severity": "err", "facility": "local3"}}]},
        ]}],
        "consumers": [{"username": "bob", "custom_id": "robert", "keyauth_credentials": [{"key": "kong"}]}],
    }
    with open(f"{work}/kong.json", "w") as f:
        json.dump(config, f)
    log = open(f"{work}/argus.log", "w")
    argus = subprocess.Popen(
        [ARGUS, "start", "--config", f"{work}/kong.json", "--proxy-listen", f"127.0.0.1:{proxy}",
         "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}", "--data-dir", f"{work}/data",
         "--workers", "2", "--syslog-address", f"{work}/syslog.sock"], stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200, 30, "argus")
        if check(ready, "argus started"):
            for i in range(20):
                get(proxy, f"/tcp?i={i}")
                get(proxy, f"/tls?i={i}")
                get(proxy, f"/udp?i={i}")
            check(wait_for(lambda: len(tcp.records) == 20, 10), f"tcp-log: 20 records ({len(tcp.records)})")
            check(wait_for(lambda: len(tls.records) == 20, 10), f"tcp-log over TLS: 20 records ({len(tls.records)})")
            check(wait_for(lambda: len(udp.records) == 20, 10), f"udp-log: 20 datagrams ({len(udp.records)})")
            record = tcp.records[0] if tcp.records else {}
            check(record.get("request", {}).get("uri", "").startswith("/tcp?i=") and record.get("response", {}).get("status") == 200,
                  f"Kong's record: request and response ({str(record)[:160]})")
            check(record.get("route", {}).get("name") == "tcp" and record.get("service", {}).get("name") == "echo"
                  and record.get("client_ip") == "127.0.0.1" and "latencies" in record, "Kong's record: route, service, client_ip, latencies")
            check(sorted(r["request"]["uri"] for r in udp.records) == sorted(f"/udp?i={i}" for i in range(20)), "one datagram per request")
            check(tcp.connections <= 3, f"records share kept-alive connections ({tcp.connections} connections)")
            # statsd: Kong's default metrics, a datagram per line (spec/03-plugins/06-statsd E1)
            get(proxy, "/statsd/x?apikey=kong")
            check(wait_for(lambda: len(statsd.records) >= 12, 10), f"statsd: 12 lines for a proxied request with a consumer ({len(statsd.records)})")
            lines = set(statsd.records)
            for expected in ["kong.service.echo.request.count:1|c", "kong.service.echo.status.200:1|c", "kong.service.echo.user.uniques:robert|s",
                             "kong.service.echo.user.robert.request.count:1|c", "kong.service.echo.user.robert.status.200:1|c"]:
                check(expected in lines, f"statsd: {expected}")
            check(any(re.fullmatch(r"kong\.service\.echo\.latency:\d+\|ms", l) for l in lines), "statsd: latency in ms")
            check(any(re.fullmatch(r"kong\.route\.[0-9a-f-]{36}\.user\.robert\.status\.200:1\|c", l) for l in lines), "statsd: per user per route")
            # datadog: Kong's six default lines with its tags (spec/03-plugins/08-datadog)
            get(proxy, "/datadog/x?apikey=kong")
            check(wait_for(lambda: len(datadog.records) >= 6, 10), f"datadog: 6 lines ({len(datadog.records)})")
            check("kong.request.count:1|c|#name:echo,status:200,consumer:robert,app:kong" in datadog.records,
                  f"datadog: request.count with Kong's tags ({datadog.records[:1]})")
            check(any(re.fullmatch(r"kong\.latency:\d+\|ms\|#name:echo,status:200,consumer:robert,app:kong", l) for l in datadog.records),
                  "datadog: latency")
            # loggly: a syslog frame with the key and tags, at the severity asked for
            get(proxy, "/loggly/x")
            check(wait_for(lambda: len(loggly.records) == 1, 10), f"loggly: one datagram ({len(loggly.records)})")
            frame = loggly.records[0] if loggly.records else ""
            match = re.match(r'^<12>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ kong - - \[K3Y@41058 tag="kong" tag="argus"\] (\{.*\})$', frame)
            check(match is not None, f"loggly: Kong's frame ({frame[:100]})")
            check(match is not None and json.loads(match.group(1))["request"]["uri"] == "/loggly/x", "loggly: Kong's record")
            # syslog: RFC 5424 frames, the severity by status class, nothing below log_level
            for path in ["/syslog/ok", "/syslog/missing", "/syslog/fail"]:
                get(proxy, path)
            check(wait_for(lambda: len(syslog.datagrams) == 2, 10), f"syslog: the 404 and the 500, not the 200 below log_level ({len(syslog.datagrams)})")
            frames = [d.decode() for d in syslog.datagrams]
            pattern = re.compile(r"^<(\d+)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ kong \d+ - - (\{.*\})$")
            parsed = [pattern.match(f) for f in frames]
            check(all(parsed), f"syslog: RFC 5424 frames with app name kong ({frames[0][:90] if frames else ''})")
            if all(parsed):
                by_status = {json.loads(m.group(2))["response"]["status"]: int(m.group(1)) for m in parsed}
                check(by_status == {404: 19 * 8 + 4, 500: 19 * 8 + 3}, f"syslog: local3 with warning for 4xx and err for 5xx ({by_status})")
            # the receiver goes away under traffic and comes back: nothing is lost
            tcp.stop()
            time.sleep(0.3)
            for i in range(20, 60):
                get(proxy, f"/tcp?i={i}")
            time.sleep(2)
            check(metric(status, 'argus_log_write_errors_total{sink="tcp-log"') >= 1, "the outage is counted as failed writes")
            tcp.start()
            check(wait_for(lambda: len(tcp.records) >= 60, 20), f"after the outage every record arrives ({len(tcp.records)} of 60)")
            uris = [r["request"]["uri"] for r in tcp.records]
            check(set(uris) == {f"/tcp?i={i}" for i in range(60)}, "no record lost")
            check(metric(status, 'argus_log_records_total{sink="tcp-log"') >= 80 and metric(status, 'argus_log_records_total{sink="udp-log"') >= 20,
                  "records counted on /metrics by sink")
            check(metric(status, 'argus_log_records_total{sink="tcp-log",instance=') > 0
                  and 'outcome="dropped"' in urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read().decode(),
                  "drops have a counter")
        check(argus.poll() is None, "argus is still running")
    except Exception as error:  # a failure mid-way is one failed check, with its reason
        check(False, f"the scenario ran to its end: {error!r}")
    finally:
        finish([argus], work, TALLY)
        print(f"socketlog_it took {time.time() - started:.1f} s")
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
