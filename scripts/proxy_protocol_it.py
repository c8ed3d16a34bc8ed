#!/usr/bin/env python3
"""The PROXY protocol from a real load balancer: Debian's haproxy in TCP mode in front of Argus,
sending version 1 (`send-proxy`) and version 2 (`send-proxy-v2`) headers, to a plain and to a TLS
`proxy_protocol` listener. curl connects to haproxy from 127.0.0.2, haproxy to Argus from
127.0.0.1 (the only trusted address), and with `--real-ip-header proxy_protocol` the client Argus
sees, logs and sends upstream is 127.0.0.2. A connection without a header is closed and counted.
Prints "N passed, M failed".
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, finish, free_port, wait_for  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def curl(url):
    out = subprocess.run(["curl", "-sk", "--interface", "127.0.0.2", "--max-time", "10", url], capture_output=True, text=True, timeout=20)
    return json.loads(out.stdout) if out.stdout.startswith("{") else {}


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="argus-pp-")
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    plain, tls, admin, status = free_port(), free_port(), free_port(), free_port()
    v1, v2, v2tls = free_port(), free_port(), free_port()
    log_path = f"{work}/requests.log"
    config = {"_format_version": "3.0",
              "services": [{"name": "echo", "url": f"http://127.0.0.1:{upstream.server_address[1]}", "routes": [{"name": "all", "paths": ["/"]}]}],
              "plugins": [{"name": "file-log", "config": {"path": log_path}}]}
    with open(f"{work}/kong.json", "w") as f:
        json.dump(config, f)
    with open(f"{work}/haproxy.cfg", "w") as f:
        f.write(f"""global
  maxconn 256
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen v1
  bind 127.0.0.1:{v1}
  server argus 127.0.0.1:{plain} send-proxy
listen v2
  bind 127.0.0.1:{v2}
  server argus 127.0.0.1:{plain} send-proxy-v2
listen v2tls
  bind 127.0.0.1:{v2tls}
  server argus 127.0.0.1:{tls} send-proxy-v2
""")
    log = open(f"{work}/argus.log", "w")
    argus = subprocess.Popen(
        [ARGUS, "start", "--config", f"{work}/kong.json",
         "--proxy-listen", f"127.0.0.1:{plain} proxy_protocol, 127.0.0.1:{tls} ssl proxy_protocol",
         "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}", "--data-dir", f"{work}/data",
         "--trusted-ips", "127.0.0.1", "--real-ip-header", "proxy_protocol", "--workers", "2"], stdout=log, stderr=subprocess.STDOUT)
    haproxy = subprocess.Popen(["haproxy", "-f", f"{work}/haproxy.cfg", "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200, 30, "argus")
        if check(ready, "argus started"):
            wait_for(lambda: socket.create_connection(("127.0.0.1", v1), timeout=1).close() is None, 10, "haproxy")
            for port, scheme, what in [(v1, "http", "v1 header"), (v2, "http", "v2 header"), (v2tls, "https", "v2 header before TLS")]:
                seen = curl(f"{scheme}://127.0.0.1:{port}/x")
                check(seen.get("x-real-ip") == "127.0.0.2", f"{what}: the upstream's X-Real-IP is the balancer's client ({seen.get('x-real-ip')})")
                check(seen.get("x-forwarded-for", "").endswith("127.0.0.2"), f"{what}: X-Forwarded-For ends with it ({seen.get('x-forwarded-for')})")
                check(seen.get("x-forwarded-proto") == scheme, f"{what}: X-Forwarded-Proto {scheme}")
            # straight to the listener, without a header: closed, nothing proxied
            with socket.create_connection(("127.0.0.1", plain), timeout=5) as s:
                s.sendall(b"GET /direct HTTP/1.1\r\nHost: x\r\n\r\n")
                s.settimeout(5)
                try:
                    answer = s.recv(100)
                except OSError:
                    answer = b""
            check(answer == b"", f"a connection without a PROXY header is closed unanswered ({answer!r})")
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read().decode()
            read = [float(l.rpartition(" ")[2]) for l in metrics.splitlines() if l.startswith('argus_proxy_protocol_headers_total{outcome="read"}')]
            # (haproxy's connections for the readiness probe above carry a header too)
            check(read and read[0] >= 3, f"the headers read are counted ({read})")
            check('argus_proxy_protocol_headers_total{outcome="refused"} 1' in metrics, "the connection without one is counted")
            wait_for(lambda: len(open(log_path).read().splitlines()) >= 3, 10)
            records = [json.loads(line) for line in open(log_path) if line.strip()]
            check(len(records) == 3 and all(r["client_ip"] == "127.0.0.2" for r in records),
                  f"file-log's client_ip is the balancer's client ({[r.get('client_ip') for r in records]})")
        check(argus.poll() is None, "argus is still running")
    except Exception as error:  # a failure mid-way is one failed check, with its reason
        check(False, f"the scenario ran to its end: {error!r}")
    finally:
        upstream.shutdown()
        finish([argus, haproxy], work, TALLY)
        print(f"proxy_protocol_it took {time.time() - started:.1f} s")
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
