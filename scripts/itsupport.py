"""Helpers shared by the end-to-end scripts: free loopback ports, waiting, and the pass/fail tally
whose closing line is "N passed, M failed"."""
import http.server
import json
import socket
import time


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition, what):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}", flush=True)
        return condition

    def close(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what=""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(0.1)
    if what:
        print(f"timed out waiting for {what}", flush=True)
    return False


def metric(status, series):
    """The sum of the /metrics samples (on the status port) whose line starts with `series`
    (a family name, or a name and the start of its labels)."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read().decode()
    return sum(float(l.rpartition(" ")[2]) for l in text.splitlines() if l.startswith(series))


def finish(processes, work, tally, log_name="argus.log"):
    """Stops the processes by PID (SIGTERM, then SIGKILL after 15 s), prints the tail of the
    gateway's log if something failed, removes the scratch directory."""
    import os
    import shutil
    import signal
    import subprocess
    for p in processes:
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    log = os.path.join(work, log_name)
    if tally.failed and os.path.exists(log):
        print(open(log).read()[-3000:])
    shutil.rmtree(work, ignore_errors=True)


class Echo(http.server.BaseHTTPRequestHandler):
    """An upstream for the scripts: answers every request with JSON naming its port, the path and
    the headers it got (the body is read and dropped)."""
    protocol_version = "HTTP/1.1"

    def respond(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"port": self.server.server_port, "path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = respond

    def log_message(self, *args):
        pass


def serve(handler):
    """A threaded HTTP server on a free loopback port running `handler` in a daemon thread."""
    import threading
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def send_json(handler, value, status=200, headers=()):
    """Answers a request in a BaseHTTPRequestHandler with `value` as JSON (and extra headers)."""
    body = json.dumps(value).encode()
    handler.send_response(status)
    for name, field in headers:
        handler.send_header(name, field)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def start_argus(binary, work, name, config, listen_flags=""):
    """Writes `config` (a dict) to `<work>/<name>.json` and starts `argus start` on free loopback
    ports (the proxy listener with `listen_flags`, e.g. "http2"), its log in `<work>/<name>.log`.
    Returns (process, proxy port, status port, ready)."""
    import subprocess
    import urllib.request
    proxy, admin, status = free_port(), free_port(), free_port()
    path = f"{work}/{name}.json"
    with open(path, "w") as f:
        json.dump(config, f)
    process = subprocess.Popen(
        [binary, "start", "--config", path, "--proxy-listen", f"127.0.0.1:{proxy} {listen_flags}".strip(),
         "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}", "--data-dir", f"{work}/{name}-data",
         "--workers", "2"], stdout=open(f"{work}/{name}.log", "w"), stderr=subprocess.STDOUT)
    ready = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200, 30, name)
    return process, proxy, status, ready
