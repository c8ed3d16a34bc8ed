#!/usr/bin/env python3
"""file-log under Debian's logrotate, end to end.

Starts a backend and Argus (argv[1]) with a global file-log plugin, sends requests steadily from
a thread, and meanwhile rotates the log twice with logrotate: once in `create` mode (rename, then
`postrotate` sends SIGUSR1 so Argus reopens at once) and once in `copytruncate` mode. Then stops
Argus gracefully (which flushes) and checks that every line of every file is one complete JSON
record and that the records, counted by request id over all the files, are exactly the requests
sent, each once. Prints "N passed, M failed".
"""
import glob
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, finish, free_port, wait_for  # noqa: E402

TALLY = Tally()
check = TALLY.check


def main():
    work = tempfile.mkdtemp(prefix="argus-rotate-it-")
    procs = []
    try:
        backend, proxy, admin, status = free_port(), free_port(), free_port(), free_port()
        os.makedirs(f"{work}/www")
        open(f"{work}/www/index.html", "w").write("ok\n")
        procs.append(subprocess.Popen([sys.executable, "-m", "http.server", str(backend), "--bind", "127.0.0.1",
                                       "--directory", f"{work}/www"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        log = f"{work}/logs/access.log"
        os.makedirs(f"{work}/logs")
        open(f"{work}/kong.yml", "w").write(f"""_format_version: "3.0"
services:
  - name: web
    url: http://127.0.0.1:{backend}
    routes: [{{name: all, paths: ["/"]}}]
plugins:
  - name: file-log
    config: {{path: {log}}}
""")
        argus = subprocess.Popen([ARGUS, "start", "--config", f"{work}/kong.yml", "--proxy-listen", f"127.0.0.1:{proxy}",
                                  "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}",
                                  "--data-dir", f"{work}/data", "--workers", "2"],
                                 stdout=open(f"{work}/argus.log", "w"), stderr=subprocess.STDOUT)
        procs.append(argus)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200:
                    break
            except Exception:
                time.sleep(0.2)

        sent_ids, stop = [], threading.Event()

        def load():
            conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
            while not stop.is_set():
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    sent_ids.append(response.getheader("X-Kong-Request-Id"))
            conn.close()

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(1.5)
        for mode, options in (("create", f"create 0640\n  postrotate\n    kill -USR1 {argus.pid}\n  endscript"),
                              ("copytruncate", "copytruncate")):
            conf = f"{work}/logrotate-{mode}.conf"
            open(conf, "w").write(f"{log} {{\n  rotate 10\n  nocompress\n  missingok\n  {options}\n}}\n")
            result = subprocess.run(["logrotate", "-f", "-s", f"{work}/logrotate.state", conf], capture_output=True, text=True)
            check(result.returncode == 0, f"logrotate ({mode}) ran: {result.stderr.strip()}")
            time.sleep(1.5)
        stop.set()
        loader.join()
        argus.send_signal(signal.SIGTERM)
        check(argus.wait(timeout=30) == 0, "argus exited 0 after SIGTERM")

        files = sorted(glob.glob(log + "*"))
        check(len(files) == 3, f"three files after two rotations: {files}")
        seen, broken = {}, 0
        for path in files:
            for line in open(path, encoding="utf-8").read().split("\n")[:-1]:
                try:
                    record = json.loads(line)
                    rid = record["request"]["id"]
                    seen[rid] = seen.get(rid, 0) + 1
                except Exception:
                    broken += 1
            check(open(path, "rb").read().endswith(b"\n") or os.path.getsize(path) == 0, f"{path} ends with a whole line")
        check(broken == 0, f"{broken} lines are not complete JSON records")
        check(len(sent_ids) > 100, f"load ran ({len(sent_ids)} requests)")
        missing = [r for r in sent_ids if r not in seen]
        duplicated = [r for r, n in seen.items() if n > 1]
        check(not missing, f"{len(missing)} of {len(sent_ids)} requests have no record")
        check(not duplicated, f"{len(duplicated)} records appear twice")
        check(len(seen) == len(sent_ids), f"records {len(seen)} == requests {len(sent_ids)}")
        print(f"requests {len(sent_ids)}, records per file: " + ", ".join(
            f"{os.path.basename(p)}={sum(1 for _ in open(p))}" for p in files))
    finally:
        finish(procs, work, TALLY)
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
