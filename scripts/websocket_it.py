#!/usr/bin/env python3
"""WebSocket through Argus, end to end, with real peers (Debian's python3-websockets on both sides).

Argus (argv[1]) runs on a kong.yml with a plain and a TLS proxy listener, in front of a
`websockets` echo server. Checked: the handshake (101, Upgrade and Connection: upgrade both
ways), text and binary messages both ways, a 4 MiB message (back-pressure through the tunnel),
ping/pong, a clean close (1000) from either side, 20 tunnels at once, wss:// through the TLS
listener, the access phase on the handshake (key-auth: 401 without a key), an upstream that
refuses the upgrade (its answer relayed as a normal response), a tunnel the upstream is silent
on closed after the service's read timeout, one file-log record per tunnel (status 101, bytes
each way) and the open-tunnels gauge. Prints "N passed, M failed".
"""
import asyncio
import http.server
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, finish, free_port, wait_for  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check


async def echo(ws, path):
    """Echoes every message; `/ws/close-first` closes the connection itself after one message;
    `/ws/silent` never answers."""
    if path.endswith("/silent"):
        await asyncio.sleep(30)
        return
    async for message in ws:
        await ws.send(message)
        if path.endswith("/close-first"):
            await ws.close(code=4001, reason="server done")
            return


class Refuser(http.server.BaseHTTPRequestHandler):
    """An upstream that does not speak WebSocket: answers 426 with a body."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"no websockets here"
        self.send_response(426)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a keep-alive connection Argus closes at the end is not a failure


class HalfCloser:
    """An upstream of a raw Upgrade protocol: answers 101, sends "bye" and its FIN at once, then
    keeps reading what the client sends (through Argus's half-closed tunnel) and records it."""

    def __init__(self, port):
        self.received = b""
        self.listener = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw-echo\r\nConnection: Upgrade\r\n\r\nbye")
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(10)
        try:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                self.received += chunk
        except OSError:
            pass
        conn.close()


def half_close(proxy):
    """The upstream's FIN reaches the client after its last bytes; the client may still send for
    longer than a lingering close would allow; its own FIN ends the tunnel."""
    s = socket.create_connection(("127.0.0.1", proxy), timeout=10)
    s.sendall(b"GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: raw-echo\r\nConnection: upgrade\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.sendall(b"after-")
    time.sleep(3)  # longer than the 2 s lingering close of an ordinary connection
    s.sendall(b"the-fin")
    s.shutdown(socket.SHUT_WR)
    s.settimeout(5)
    try:
        rest = s.recv(10)
    except OSError:
        rest = b"?"
    s.close()
    return data, rest


def metrics(port):
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def gauge(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def scenario(proxy, tls_port, status_port, file_log):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE

    # --- handshake and messages both ways -------------------------------------------------
    async with websockets.connect(f"ws://127.0.0.1:{proxy}/ws/echo", max_size=None) as ws:
        check(ws.response_headers.get("Upgrade", "").lower() == "websocket", f"101 carries Upgrade: websocket ({ws.response_headers})")
        check("upgrade" in ws.response_headers.get("Connection", "").lower(), "101 carries Connection: upgrade")
        check(ws.response_headers.get("Via", "").startswith("1.1 argus"), "the 101 came through Argus (Via)")
        await ws.send("hello")
        check(await ws.recv() == "hello", "a text message comes back")
        await ws.send(b"\x00\x01\x02binary")
        check(await ws.recv() == b"\x00\x01\x02binary", "a binary message comes back")
        big = os.urandom(4 << 20)
        await ws.send(big)
        check(await asyncio.wait_for(ws.recv(), 30) == big, "a 4 MiB message comes back whole (back-pressure both ways)")
        pong = await ws.ping()
        await asyncio.wait_for(pong, 5)
        check(True, "ping answered by pong through the tunnel")
        open_now = gauge(metrics(status_port), "argus_tunnels_open")
        check(open_now == 1, f"argus_tunnels_open is 1 while the tunnel is open ({open_now})")
    check(ws.close_code == 1000, f"the client's close is a clean 1000 ({ws.close_code})")
    check(wait_for(lambda: gauge(metrics(status_port), "argus_tunnels_open") == 0, 10), "argus_tunnels_open back to 0 after the close")

    # --- the server closes first --------------------------------------------------------
    async with websockets.connect(f"ws://127.0.0.1:{proxy}/ws/close-first") as ws:
        await ws.send("bye")
        check(await ws.recv() == "bye", "message before the server's close")
        try:
            await asyncio.wait_for(ws.recv(), 10)
            check(False, "the server's close reaches the client")
        except websockets.ConnectionClosed as closed:
            check(closed.code == 4001 and closed.reason == "server done", f"the server's close code and reason arrive ({closed.code} {closed.reason})")

    # --- many tunnels at once --------------------------------------------------------------
    async def one(i):
        async with websockets.connect(f"ws://127.0.0.1:{proxy}/ws/echo") as ws:
            for j in range(20):
                await ws.send(f"{i}-{j}")
                if await ws.recv() != f"{i}-{j}":
                    return False
            return True
    results = await asyncio.gather(*(one(i) for i in range(20)))
    check(all(results), "20 tunnels at once each get their own 20 echoes")

    # --- wss:// through the TLS listener ---------------------------------------------------
    async with websockets.connect(f"wss://127.0.0.1:{tls_port}/ws/echo", ssl=tls) as ws:
        await ws.send("over tls")
        check(await ws.recv() == "over tls", "wss:// through the TLS listener")

    # --- the access phase runs on the handshake ------------------------------------------
    try:
        async with websockets.connect(f"ws://127.0.0.1:{proxy}/secure/echo"):
            check(False, "key-auth refuses a handshake without a key")
    except websockets.InvalidStatusCode as refused:
        check(refused.status_code == 401, f"key-auth refuses a handshake without a key: 401 ({refused.status_code})")
    async with websockets.connect(f"ws://127.0.0.1:{proxy}/secure/echo", extra_headers={"apikey": "secret"}) as ws:
        await ws.send("authenticated")
        check(await ws.recv() == "authenticated", "with the key the handshake and messages go through")

    # --- an upstream that refuses the upgrade -------------------------------------------
    try:
        async with websockets.connect(f"ws://127.0.0.1:{proxy}/refuse"):
            check(False, "an upstream's refusal is relayed")
    except websockets.InvalidStatusCode as refused:
        check(refused.status_code == 426, f"the upstream's 426 is relayed as a normal response ({refused.status_code})")

    # --- a tunnel the upstream is silent on: closed after the read timeout ---------------
    started = time.time()
    async with websockets.connect(f"ws://127.0.0.1:{proxy}/quiet/silent", ping_interval=None) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 15)
            check(False, "a silent tunnel is closed")
        except websockets.ConnectionClosed:
            elapsed = time.time() - started
            check(0.8 <= elapsed < 10, f"a tunnel the upstream is silent on closes after the service's read timeout (1 s): {elapsed:.1f} s")

    # --- half-closes are passed on ---------------------------------------------------------
    data, rest = await asyncio.get_running_loop().run_in_executor(None, half_close, proxy)
    check(data.startswith(b"HTTP/1.1 101") and data.endswith(b"bye"), f"the upstream's last bytes arrive before its FIN ({data[-40:]!r})")
    check(rest == b"", f"after both FINs the client's connection ends cleanly ({rest!r})")
    check(wait_for(lambda: HALF.received == b"after-the-fin", 10),
          f"the client kept sending after the upstream's FIN, past 2 s, and all of it arrived ({HALF.received!r})")

    # --- one log record per tunnel ---------------------------------------------------------
    def tunnel_records():
        if not os.path.exists(file_log):
            return []
        lines = [json.loads(line) for line in open(file_log) if line.strip()]
        return [r for r in lines if r.get("response", {}).get("status") == 101]
    check(wait_for(lambda: len(tunnel_records()) >= 26, 15), f"one file-log record per tunnel with status 101 ({len(tunnel_records())})")
    big_ones = [r for r in tunnel_records() if r["request"]["size"] > (4 << 20) and r["response"]["size"] > (4 << 20)]
    check(len(big_ones) == 1, "the 4 MiB tunnel's record counts the bytes each way")


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="argus-ws-it-")
    global HALF
    ws_port, refuse_port, raw_port = free_port(), free_port(), free_port()
    HALF = HalfCloser(raw_port)
    proxy, tls_port, admin, status = free_port(), free_port(), free_port(), free_port()
    file_log = f"{work}/ws.log"
    loop = asyncio.new_event_loop()
    server_ready = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(websockets.serve(echo, "127.0.0.1", ws_port, max_size=None))
        server_ready.set()
        loop.run_forever()
    threading.Thread(target=serve, daemon=True).start()
    server_ready.wait(10)
    refuser = QuietServer(("127.0.0.1", refuse_port), Refuser)
    threading.Thread(target=refuser.serve_forever, daemon=True).start()

    config = {
        "_format_version": "3.0",
        "services": [
            {"name": "ws", "url": f"http://127.0.0.1:{ws_port}", "routes": [{"name": "ws", "paths": ["/ws"], "strip_path": False}]},
            {"name": "secure", "url": f"http://127.0.0.1:{ws_port}/ws",
             "routes": [{"name": "secure", "paths": ["/secure"], "plugins": [{"name": "key-auth"}]}]},
            {"name": "refuse", "url": f"http://127.0.0.1:{refuse_port}", "routes": [{"name": "refuse", "paths": ["/refuse"]}]},
            {"name": "raw", "url": f"http://127.0.0.1:{raw_port}", "routes": [{"name": "raw", "paths": ["/raw"]}]},
            {"name": "quiet", "url": f"http://127.0.0.1:{ws_port}/ws", "read_timeout": 1000,
             "routes": [{"name": "quiet", "paths": ["/quiet"]}]},
        ],
        "consumers": [{"username": "u", "keyauth_credentials": [{"key": "secret"}]}],
        "plugins": [{"name": "file-log", "config": {"path": file_log}}],
    }
    with open(f"{work}/kong.json", "w") as f:
        json.dump(config, f)
    log = open(f"{work}/argus.log", "w")
    argus = subprocess.Popen(
        [ARGUS, "start", "--config", f"{work}/kong.json", "--proxy-listen", f"127.0.0.1:{proxy}, 127.0.0.1:{tls_port} ssl",
         "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}", "--data-dir", f"{work}/data",
         "--workers", "2"], stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{status}/status/ready", timeout=2).status == 200, 30, "argus")
        if check(ready, "argus started"):
            loop2 = asyncio.new_event_loop()
            loop2.run_until_complete(asyncio.wait_for(scenario(proxy, tls_port, status, file_log), 120))
        check(argus.poll() is None, "argus is still running")
    except Exception as error:  # a failure mid-way is one failed check, with its reason
        check(False, f"the scenario ran to its end: {error!r}")
    finally:
        refuser.shutdown()
        finish([argus], work, TALLY)
        print(f"websocket_it took {time.time() - started:.1f} s")
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
