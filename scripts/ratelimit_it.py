#!/usr/bin/env python3
"""Two Argus processes sharing one real Redis admit exactly the limit together; Redis killed and
restarted in the middle.

Starts Debian's redis-server and two `argus start` processes (argv[1]) with a global
rate-limiting instance, policy redis, `hour: 60`, limit_by ip. Eight client threads (four per
node) send 200 requests at once: exactly 60 get 200 (and Redis holds 60 under Kong's key), the
rest 429 with Kong's headers. Then Redis is killed (SIGKILL): both nodes keep serving (fault
tolerant, no limit headers) and count store errors on /metrics. Redis is started again (empty):
the limit applies again by itself. Every process is stopped by PID. Prints "N passed, M failed".
"""
import http.client
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
LIMIT = 60


def start_redis(work, port):
    return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", work, "--save", "",
                             "--appendonly", "no", "--logfile", f"{work}/redis.log"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=5).stdout.strip()


def main():
    # The whole check must sit inside one hour window.
    if time.time() % 3600 > 3600 - 60:
        time.sleep(3600 - time.time() % 3600 + 1)
    work = tempfile.mkdtemp(prefix="argus-ratelimit-it-")
    procs = []
    redis = None
    try:
        backend, redis_port = free_port(), free_port()
        os.makedirs(f"{work}/www")
        open(f"{work}/www/index.html", "w").write("ok\n")
        procs.append(subprocess.Popen([sys.executable, "-m", "http.server", str(backend), "--bind", "127.0.0.1",
                                       "--directory", f"{work}/www"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        redis = start_redis(work, redis_port)
        check(wait_for(lambda: redis_cli(redis_port, "ping") == "PONG", 10, "redis"), "redis started")
        open(f"{work}/kong.yml", "w").write(f"""_format_version: "3.0"
services:
  - name: web
    url: http://127.0.0.1:{backend}
    routes: [{{name: all, paths: ["/"]}}]
plugins:
  - name: rate-limiting
    instance_name: shared
    config: {{hour: {LIMIT}, limit_by: ip, policy: redis, redis: {{host: 127.0.0.1, port: {redis_port}, timeout: 500}}}}
""")
        log = open(f"{work}/argus.log", "a")
        nodes = []
        for name in ("a", "b"):
            proxy, admin, status = free_port(), free_port(), free_port()
            p = subprocess.Popen([ARGUS, "start", "--config", f"{work}/kong.yml", "--proxy-listen", f"127.0.0.1:{proxy}",
                                  "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}",
                                  "--data-dir", f"{work}/data-{name}", "--workers", "2"], stdout=log, stderr=subprocess.STDOUT)
            procs.append(p)
            check(wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200, 30,
                           f"argus {name} ready"), f"argus {name} started")
            nodes.append((proxy, admin))

        results, lock = [], threading.Lock()

        def client(proxy, count):
            conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
            for _ in range(count):
                conn.request("GET", "/")
                r = conn.getresponse()
                r.read()
                with lock:
                    results.append((r.status, r.getheader("X-RateLimit-Remaining-Hour"), r.getheader("RateLimit-Limit")))
            conn.close()

        threads = [threading.Thread(target=client, args=(nodes[i % 2][0], 25)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [r for r in results if r[0] == 200]
        limited = [r for r in results if r[0] == 429]
        check(len(results) == 200, f"{len(results)} responses")
        check(len(ok) == LIMIT, f"exactly {LIMIT} admitted by the two nodes together: {len(ok)}")
        check(len(limited) == 200 - LIMIT, f"the rest rejected: {len(limited)}")
        check(sorted(int(r[1]) for r in ok) == list(range(LIMIT)), "remaining counts LIMIT-1 .. 0, each once")
        check(all(r[2] == str(LIMIT) for r in results), "RateLimit-Limit on every response")
        window = int(time.time()) // 3600 * 3600 * 1000
        null = "00000000-0000-0000-0000-000000000000"
        key = f"ratelimit:{null}:{null}:127.0.0.1:{window}:hour"
        check(redis_cli(redis_port, "GET", key) == str(LIMIT), f"Redis holds {LIMIT} under Kong's key {key}")

        # Redis dies: both nodes serve (fault tolerant), without limit headers, and count the errors.
        redis.send_signal(signal.SIGKILL)
        redis.wait()
        for proxy, _ in nodes:
            conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
            for _ in range(5):
                conn.request("GET", "/")
                r = conn.getresponse()
                r.read()
                check(r.status == 200 and r.getheader("X-RateLimit-Limit-Hour") is None, f"served while Redis is down: {r.status}")
            conn.close()

        def store_errors(admin):
            text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("argus_ratelimit_store_errors_total{"))

        for _, admin in nodes:
            check(wait_for(lambda: store_errors(admin) >= 5, 10, "store errors"), f"store errors counted on {admin}")

        # Redis comes back empty: the limit applies again by itself (after the client's back-off).
        redis = start_redis(work, redis_port)
        check(wait_for(lambda: redis_cli(redis_port, "ping") == "PONG", 10, "redis again"), "redis restarted")

        def limited_again(proxy):
            conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
            try:
                for _ in range(LIMIT + 5):
                    conn.request("GET", "/")
                    r = conn.getresponse()
                    r.read()
                    if r.status == 429:
                        return True
                return False
            finally:
                conn.close()

        check(wait_for(lambda: limited_again(nodes[0][0]), 20, "limits again"), "limits apply again once Redis is back")
        check(wait_for(lambda: limited_again(nodes[1][0]), 20, "limits again on b"), "both nodes see the shared count again")
    finally:
        finish(procs + ([redis] if redis else []), work, TALLY)
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
