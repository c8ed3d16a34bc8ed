#!/usr/bin/env python3
"""http-log through a 10-second outage of the log endpoint, with an Argus restart in the middle.

A Logstash-like receiver (http input, json codec: an array is one event per element, gzip is
inflated, 200 "ok") takes the records. Steady load runs through Argus (argv[1]) the whole time.
The receiver goes down for 10 s; 5 s into the outage Argus is stopped (SIGTERM) and started again
on the same data directory. Then the receiver comes back. Checks: every request that got a
response has exactly one record, in the order the requests were answered; the spool showed up on
/metrics during the outage and is empty at the end. Prints "N passed, M failed".
"""
import gzip
import http.client
import http.server
import json
import os
import signal
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
received, received_lock = [], threading.Lock()
DOWN = threading.Event()  # the receiver is "down": open keep-alive connections are cut too


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        if DOWN.is_set():
            self.close_connection = True
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        data = json.loads(body)
        events = data if isinstance(data, list) else [data]
        with received_lock:
            received.extend(e["request"]["id"] for e in events)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def serve(port):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    work = tempfile.mkdtemp(prefix="argus-httplog-it-")
    backend_proc = argus = None
    try:
        backend, proxy, admin, status, logs = (free_port() for _ in range(5))
        os.makedirs(f"{work}/www")
        open(f"{work}/www/index.html", "w").write("ok\n")
        backend_proc = subprocess.Popen([sys.executable, "-m", "http.server", str(backend), "--bind", "127.0.0.1",
                                         "--directory", f"{work}/www"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        open(f"{work}/kong.yml", "w").write(f"""_format_version: "3.0"
services:
  - name: web
    url: http://127.0.0.1:{backend}
    routes: [{{name: all, paths: ["/"]}}]
plugins:
  - name: http-log
    config:
      http_endpoint: http://127.0.0.1:{logs}/
      gzip: true
      queue: {{max_batch_size: 100, max_coalescing_delay: 0.1, initial_retry_delay: 0.1, max_retry_delay: 1}}
""")
        log = open(f"{work}/argus.log", "a")

        def start_argus():
            p = subprocess.Popen([ARGUS, "start", "--config", f"{work}/kong.yml", "--proxy-listen", f"127.0.0.1:{proxy}",
                                  "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}",
                                  "--data-dir", f"{work}/data", "--workers", "2"], stdout=log, stderr=subprocess.STDOUT)
            check(wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200, 30,
                           "argus ready"), "argus started")
            return p

        def metric(name):
            text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith(name + "{") and 'sink="http-log"' in line and 'instance=""' not in line)

        server = serve(logs)
        argus = start_argus()
        sent, stop, paused = [], threading.Event(), threading.Event()

        def load():
            conn = None
            while not stop.is_set():
                if paused.is_set():
                    time.sleep(0.01)
                    continue
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=5)
                    conn.request("GET", "/")
                    response = conn.getresponse()
                    response.read()
                    if response.status == 200:
                        sent.append(response.getheader("X-Kong-Request-Id"))
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.01)
                time.sleep(0.002)

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(2)
        DOWN.set()
        server.shutdown()
        server.server_close()
        outage = time.time()
        time.sleep(3)
        check(metric("argus_log_spool_bytes") > 0, "records are spooled while the endpoint is down")
        check(metric("argus_log_oldest_unsent_seconds") > 1, "the oldest unsent record's age shows the outage")
        time.sleep(2)
        paused.set()
        time.sleep(0.2)
        argus.send_signal(signal.SIGTERM)
        check(argus.wait(timeout=30) == 0, "argus stopped gracefully during the outage")
        argus = start_argus()
        paused.clear()
        time.sleep(max(0.0, 10 - (time.time() - outage)))
        DOWN.clear()
        server = serve(logs)
        time.sleep(2)
        stop.set()
        loader.join()
        check(len(sent) > 200, f"load ran ({len(sent)} requests answered)")
        check(wait_for(lambda: len(received) >= len(sent), 60, "all records"), f"{len(received)} of {len(sent)} records arrived")
        time.sleep(0.5)
        with received_lock:
            got = list(received)
        check(got == sent, f"every record exactly once, in order ({len(got)} received, {len(set(got))} distinct, {len(sent)} sent)")
        check(wait_for(lambda: metric("argus_log_spool_bytes") == 0, 10), "the spool is empty at the end")
        print(f"requests answered {len(sent)}, records received {len(got)}")
        server.shutdown()
    finally:
        finish((argus, backend_proc), work, TALLY)
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
