#!/usr/bin/env python3
"""TLS at the edge, end to end, with the clients people use: openssl s_client, curl, Python's ssl.

Argus (argv[1]) listens on a plain and an `ssl` proxy port with a Kong declarative file holding
certificates made here by `openssl req -x509`. Checks: the self-signed default pair in the data
directory (RSA 2048 and P-256, Kong's subject, the same one after a restart); certificate selection
by SNI as Kong's runloop/certificate.lua does it (Kong's proxy spec cases: exact, `*.` prefix, `.*`
suffix, the `*` SNI, the default when there is no SNI); cert/cert_alt chosen by the client's
signature algorithms; TLS 1.2 and 1.3 only; ALPN http/1.1 (and no h2); session resumption in
1.2 and 1.3; proxying over TLS (X-Forwarded-Proto/Port, curl verifying with --cacert); routes with
`protocols: ["https"]` (426 and the 301 redirect) and with `snis`; plain HTTP on the TLS port (400);
garbage, silent and half-handshake clients (closed, the silent ones after --ssl-handshake-timeout);
no descriptor leak after 200 failed handshakes; a certificate replaced by SIGHUP while a keep-alive
connection stays up; the TLS metrics on /metrics; file-log's `request.tls`; an `ssl` admin listener;
--ssl-cert; an invalid certificate refused at start. Prints "N passed, M failed".
"""
import concurrent.futures
import http.client
import http.server
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Echo, Tally, finish, free_port, wait_for  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check
HANDSHAKE_TIMEOUT = 2
DEFAULT_SUBJECT = "C = US, ST = California, L = San Francisco, O = Argus, OU = IT Department, CN = localhost"

ID_A = "5a0c8d7e-1f2b-4c3d-8e9f-0a1b2c3d4e01"
ID_A_NEW = "5a0c8d7e-1f2b-4c3d-8e9f-0a1b2c3d4e02"
ID_DUAL = "5a0c8d7e-1f2b-4c3d-8e9f-0a1b2c3d4e03"
ID_WA = "5a0c8d7e-1f2b-4c3d-8e9f-0a1b2c3d4e04"
ID_WB = "5a0c8d7e-1f2b-4c3d-8e9f-0a1b2c3d4e05"
ID_WC = "5a0c8d7e-1f2b-4c3d-8e9f-0a1b2c3d4e06"


def make_cert(work, name, cn, kind="rsa", san=None):
    """A self-signed certificate and key by `openssl req -x509`: returns (cert PEM, key PEM, cert path)."""
    cert, key = f"{work}/{name}.crt", f"{work}/{name}.key"
    newkey = ["-newkey", "rsa:2048"] if kind == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    args = ["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", f"/CN={cn}"]
    if san:
        args += ["-addext", f"subjectAltName=DNS:{san}"]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return open(cert).read(), open(key).read(), cert


def der(pem):
    return ssl.PEM_cert_to_DER_cert(pem)


def client_context(maximum=None, minimum=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum or maximum:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            if minimum:
                ctx.minimum_version = minimum
            if maximum:
                ctx.maximum_version = maximum
    return ctx


def peer(port, sni, ctx=None):
    """(DER of the certificate served, TLS version) for a handshake with SNI `sni` (None: no SNI)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        with (ctx or client_context()).wrap_socket(s, server_hostname=sni) as t:
            return t.getpeercert(binary_form=True), t.version()


def client_hello(maximum=None):
    """The bytes of a ClientHello as Python's ssl sends it (SNI a.test); maximum=TLSv1_1 makes an old one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = client_context(maximum, ssl.TLSVersion.TLSv1 if maximum else None)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="a.test")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return outgoing.read()


def s_client(port, *args, stdin=b"", timeout=20):
    """`openssl s_client -connect 127.0.0.1:port args...`: (exit code, stdout + stderr)."""
    try:
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args], input=stdin,
                           capture_output=True, timeout=timeout)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        return -1, ((e.stdout or b"") + (e.stderr or b"")).decode(errors="replace") + "\n(timed out)"


def subject(output):
    m = re.search(r"^subject=(.*)$", output, re.M)
    return m.group(1).strip() if m else None


def curl(*args, timeout=20):
    """curl -sS -i ...: (status or None, {lowercased header: value}, body text, curl's exit code, stderr)."""
    try:
        r = subprocess.run(["curl", "-sS", "-i", "--max-time", "15", *args], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, {}, "", -1, "timed out"
    out = r.stdout
    if r.returncode != 0 or not out.startswith(b"HTTP/"):
        return None, {}, out.decode(errors="replace"), r.returncode, r.stderr.decode(errors="replace")
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body.decode(errors="replace"), r.returncode, r.stderr.decode(errors="replace")


def plain(port, method, path, headers=None):
    """A plain HTTP request: (status, {lowercased header: value}, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode(errors="replace")
    finally:
        conn.close()


def as_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def read_until_closed(sock, timeout):
    """Reads until the peer closes: (closed, seconds it took, bytes received)."""
    start = time.time()
    data = b""
    sock.settimeout(0.5)
    while time.time() - start < timeout:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, time.time() - start, data
        except OSError:
            return True, time.time() - start, data
        if not chunk:
            return True, time.time() - start, data
        data += chunk
    return False, time.time() - start, data


def metrics(status_port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{status_port}/metrics", timeout=10).read().decode()
    return text


def metric(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


class SNIConnection(http.client.HTTPConnection):
    """HTTP/1.1 over TLS to 127.0.0.1:port with a chosen SNI (the Host header is the `host` given)."""

    def __init__(self, host, port, sni, timeout=15):
        super().__init__(host, port, timeout=timeout)
        self.sni = sni

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self.sock = client_context().wrap_socket(raw, server_hostname=self.sni)


class Argus:
    def __init__(self, work, name, config, proxy_listen, data, extra=()):
        self.admin, self.status = free_port(), free_port()
        self.log_path = f"{work}/argus.log"
        self.args = [ARGUS, "start", "--proxy-listen", proxy_listen, "--admin-listen", f"127.0.0.1:{self.admin}",
                     "--status-listen", f"127.0.0.1:{self.status}", "--data-dir", data, "--workers", "2", *extra]
        if config:
            self.args += ["--config", config]
        self.name = name
        self.proc = None

    def start(self):
        log = open(self.log_path, "a")
        log.write(f"==== {self.name}: {' '.join(self.args)}\n")
        log.flush()
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)

        def ready():
            return urllib.request.urlopen(f"http://127.0.0.1:{self.status}/status/ready", timeout=2).status == 200

        wait_for(lambda: not self.alive() or ready(), 45, f"{self.name} ready")
        return self.alive() and ready()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return None
        return self.proc.returncode if self.proc else None

    def died(self):
        """Why the process is gone, if it is: exit status and the last lines of its log that are not debug."""
        if self.alive():
            return "running"
        lines = [line for line in open(self.log_path, errors="replace").read().splitlines() if " debug " not in line]
        return f"exit status {self.proc.returncode}; log: " + " | ".join(lines[-12:])

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


def main():
    started = time.time()
    work = tempfile.mkdtemp(prefix="argus-tls-it-")
    gateways, servers = [], []
    try:
        scenario(work, gateways, servers)
    except Exception:
        traceback.print_exc()
        check(False, "the script ran to its end (it raised the exception above)")
    finally:
        for server in servers:
            server.shutdown()
        if TALLY.failed and os.path.exists(f"{work}/argus.log"):
            # finish() prints the log's tail: without the debug lines, which bury everything else
            with open(f"{work}/argus-shown.log", "w") as shown:
                shown.writelines(line for line in open(f"{work}/argus.log", errors="replace") if " debug " not in line)
        finish([g.proc for g in gateways], work, TALLY, "argus-shown.log")
        print(f"tls_it took {time.time() - started:.1f} s")
    sys.exit(TALLY.close())


def scenario(work, gateways, servers):
    """Every check, in order; the processes it starts go into `gateways` and `servers`."""
    # --- certificates -------------------------------------------------------------------
    a_cert, a_key, a_path = make_cert(work, "a", "a.test", "rsa", san="a.test")
    a_new_cert, a_new_key, _ = make_cert(work, "a-new", "a.test-new", "rsa", san="a.test")
    dual_rsa, dual_rsa_key, _ = make_cert(work, "dual-rsa", "dual.test", "rsa", san="dual.test")
    dual_ec, dual_ec_key, _ = make_cert(work, "dual-ec", "dual.test-ecdsa", "ec", san="dual.test")
    wa, wa_key, _ = make_cert(work, "wa", "wildcard-a", "ec")
    wb, wb_key, wb_path = make_cert(work, "wb", "wildcard-b", "ec")
    wc, wc_key, _ = make_cert(work, "wc", "wildcard-c", "ec")
    custom, custom_key, custom_path = make_cert(work, "custom", "custom-default", "ec")
    names = {der(a_cert): "a.test (old)", der(a_new_cert): "a.test (new)", der(dual_rsa): "dual RSA",
             der(dual_ec): "dual ECDSA", der(wa): "A", der(wb): "B", der(wc): "C", der(custom): "custom default"}

    # --- upstream, config, Argus --------------------------------------------------------
    backend = free_port()
    backend_server = http.server.ThreadingHTTPServer(("127.0.0.1", backend), Echo)
    backend_server.daemon_threads = True
    threading.Thread(target=backend_server.serve_forever, daemon=True).start()
    servers.append(backend_server)
    file_log = f"{work}/file-log.json"
    config_path = f"{work}/kong.json"

    def write_config(reloaded):
        certificates = [
            {"id": ID_DUAL, "cert": dual_rsa, "key": dual_rsa_key, "cert_alt": dual_ec, "key_alt": dual_ec_key,
             "snis": [{"name": "dual.test"}]},
            {"id": ID_WA, "cert": wa, "key": wa_key, "snis": [{"name": "*.wildcard.com"}, {"name": "wildcard.*"}]},
            {"id": ID_WB, "cert": wb, "key": wb_key, "snis": [{"name": "wildcard.org"}, {"name": "test.wildcard.*"}]},
        ]
        # a.test: the old certificate, then (after SIGHUP) another certificate entity
        if reloaded:
            certificates.append({"id": ID_A_NEW, "cert": a_new_cert, "key": a_new_key, "snis": [{"name": "a.test"}]})
            certificates.append({"id": ID_WC, "cert": wc, "key": wc_key})
        else:
            certificates.append({"id": ID_A, "cert": a_cert, "key": a_key, "snis": [{"name": "a.test"}]})
        snis = [{"name": "*.www.wildcard.com", "certificate": ID_WB}]  # a top-level SNI naming its certificate
        if reloaded:
            snis.append({"name": "*", "certificate": ID_WC})
        config = {
            "_format_version": "3.0",
            "services": [{"name": "echo", "url": f"http://127.0.0.1:{backend}", "routes": [
                {"name": "echo", "paths": ["/echo"]},
                {"name": "secure", "paths": ["/secure"], "protocols": ["https"]},
                {"name": "redir", "paths": ["/redir"], "protocols": ["https"], "https_redirect_status_code": 301},
                {"name": "sni", "paths": ["/sni"], "protocols": ["https"], "snis": ["a.test"]},
            ]}],
            "certificates": certificates,
            "snis": snis,
            "plugins": [{"name": "file-log", "config": {"path": file_log}}],
        }
        tmp = config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(config, f, indent=1)
        os.replace(tmp, config_path)

    write_config(reloaded=False)
    p1, p2 = free_port(), free_port()
    data = f"{work}/data"
    argus = Argus(work, "argus", config_path, f"127.0.0.1:{p1}, 127.0.0.1:{p2} ssl", data,
                  ["--ssl-handshake-timeout", str(HANDSHAKE_TIMEOUT), "--log-level", "debug"])
    gateways.append(argus)
    if not check(argus.start(), "argus started with a plain and an ssl proxy listener"):
        return
    check(wait_for(lambda: peer(p2, "a.test")[0] is not None, 20, "TLS port"), "the ssl listener takes handshakes")
    m0 = metrics(argus.status)

    # --- the default certificate pair in the data directory ------------------------------
    ssl_dir = f"{data}/ssl"
    files = {n: f"{ssl_dir}/{n}" for n in ("argus-default.crt", "argus-default.key",
                                            "argus-default-ecdsa.crt", "argus-default-ecdsa.key")}
    check(all(os.path.exists(f) for f in files.values()), f"default pair written to {ssl_dir}: {os.listdir(ssl_dir) if os.path.isdir(ssl_dir) else 'missing'}")
    default_rsa = default_ec = None
    if all(os.path.exists(f) for f in files.values()):
        default_rsa, default_ec = open(files["argus-default.crt"]).read(), open(files["argus-default-ecdsa.crt"]).read()
        for crt, bits, kind in ((files["argus-default.crt"], "2048", "rsaEncryption"),
                                (files["argus-default-ecdsa.crt"], "256", "prime256v1")):
            text = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-subject", "-text"], capture_output=True,
                                  text=True, timeout=20).stdout
            check(f"subject={DEFAULT_SUBJECT}" in text, f"{os.path.basename(crt)} has Kong's default subject: {subject(text)}")
            check(f"Public-Key: ({bits} bit)" in text and kind in text, f"{os.path.basename(crt)} is {kind}, {bits} bit")
        names[der(default_rsa)] = "default RSA"
        names[der(default_ec)] = "default ECDSA"
        for key in ("argus-default.key", "argus-default-ecdsa.key"):
            check(os.stat(files[key]).st_mode & 0o077 == 0, f"{key} is private (mode {oct(os.stat(files[key]).st_mode & 0o777)})")
    defaults = {der(default_rsa), der(default_ec)} if default_rsa and default_ec else set()

    def served(sni, ctx=None):
        try:
            return names.get(peer(p2, sni, ctx)[0], "an unknown certificate")
        except (OSError, ssl.SSLError) as e:
            return f"handshake error {e}"

    no_sni = peer(p2, None)[0]
    check(no_sni in defaults, f"no SNI gets the default certificate (got {names.get(no_sni, 'unknown')})")
    rc, out = s_client(p2, "-noservername")
    check(subject(out) == DEFAULT_SUBJECT, f"openssl without SNI sees the default subject: {subject(out)}")
    rc, out = s_client(p2, "-noservername", "-tls1_2", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256")
    check(subject(out) == DEFAULT_SUBJECT and "Server public key is 2048 bit" in out,
          f"an RSA-only TLS 1.2 client without SNI gets the RSA default: {subject(out)}, "
          f"{re.findall(r'Server public key is .*', out)}")

    # --- certificate selection by SNI (Kong's proxy spec cases) -------------------------
    expected = {"a.test": "a.test (old)", "test.wildcard.com": "A", "wildcard.eu": "A",
                "wildcard.org": "B", "test.wildcard.org": "B", "test.www.wildcard.com": "B"}
    for sni, want in expected.items():
        got = served(sni)
        check(got == want, f"SNI {sni} gets certificate {want} (got {got})")
    got = served("unknown.test")
    check(got.startswith("default"), f"SNI unknown.test gets the default certificate (got {got})")
    got = served("www.wildcard.com.au")
    check(got.startswith("default"), f"SNI www.wildcard.com.au matches none of Kong's patterns: default (got {got})")
    rc, out = s_client(p2, "-servername", "test.wildcard.com")
    check(subject(out) == "CN = wildcard-a", f"openssl -servername test.wildcard.com sees CN = wildcard-a: {subject(out)}")
    rc, out = s_client(p2, "-servername", "test.www.wildcard.com")
    check(subject(out) == "CN = wildcard-b", f"openssl -servername test.www.wildcard.com sees CN = wildcard-b: {subject(out)}")
    rc, out = s_client(p2, "-servername", "unknown.test")
    check(subject(out) == DEFAULT_SUBJECT, f"openssl -servername unknown.test sees the default subject: {subject(out)}")

    # --- cert and cert_alt ----------------------------------------------------------------
    rc, out = s_client(p2, "-servername", "dual.test", "-tls1_3")
    check("Server public key is 256 bit" in out and subject(out) == "CN = dual.test-ecdsa",
          f"a TLS 1.3 client gets the ECDSA cert_alt: {subject(out)}, {re.findall(r'Server public key is .*', out)}")
    got = served("dual.test")
    check(got == "dual ECDSA", f"Python's ssl (TLS 1.3) gets the ECDSA cert_alt (got {got})")
    rc, out = s_client(p2, "-servername", "dual.test", "-tls1_2", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256")
    check("Server public key is 2048 bit" in out and subject(out) == "CN = dual.test",
          f"a TLS 1.2 client with RSA signature algorithms gets the RSA cert: {subject(out)}, {re.findall(r'Server public key is .*', out)}")
    rc, out = s_client(p2, "-servername", "dual.test", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    check("Server public key is 2048 bit" in out and "ECDHE-RSA-AES128-GCM-SHA256" in out,
          f"a TLS 1.2 client offering only ECDHE-RSA gets the RSA cert: {re.findall(r'Server public key is .*|Cipher is .*', out)}")
    rc, out = s_client(p2, "-servername", "dual.test", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
    check("Server public key is 256 bit" in out, f"a TLS 1.2 client offering only ECDHE-ECDSA gets the ECDSA cert: "
          f"{re.findall(r'Server public key is .*|Cipher is .*', out)}")

    # --- versions, ALPN, resumption ----------------------------------------------------
    rc, out = s_client(p2, "-servername", "a.test", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    check(rc != 0 and "alert protocol version" in out and "Cipher is (NONE)" in out,
          f"TLS 1.1 is refused by the server (its protocol_version alert): exit {rc}, {re.findall(r'.*alert.*|Cipher is .*|New, .*', out)}")
    rc, out = s_client(p2, "-servername", "a.test", "-tls1_2")
    check(rc == 0 and "New, TLSv1.2" in out, f"TLS 1.2 works: exit {rc}, {re.findall(r'New, .*|Protocol *:.*', out)}")
    rc, out = s_client(p2, "-servername", "a.test", "-tls1_3")
    check(rc == 0 and "New, TLSv1.3" in out, f"TLS 1.3 works: exit {rc}, {re.findall(r'New, .*|Protocol *:.*', out)}")
    try:
        refusal = f"handshake completed with {peer(p2, 'a.test', client_context(ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1))[1]}"
    except (ssl.SSLError, OSError) as e:
        refusal = str(e)
    check("alert protocol version" in refusal.lower(), f"Python's ssl limited to TLS 1.0-1.1 is refused by the server ({refusal})")
    rc, out = s_client(p2, "-servername", "a.test", "-alpn", "http/1.1")
    check("ALPN protocol: http/1.1" in out, f"ALPN http/1.1 agreed: {re.findall(r'.*ALPN.*', out)}")
    rc, out = s_client(p2, "-servername", "a.test", "-alpn", "h2")
    check(rc == 0 and "No ALPN negotiated" in out and "New, TLSv1.3" in out,
          f"ALPN h2 alone: no protocol agreed, handshake OK: exit {rc}, {re.findall(r'.*ALPN.*|New, .*', out)}")
    rc, out = s_client(p2, "-servername", "a.test", "-alpn", "h2,http/1.1")
    check("ALPN protocol: http/1.1" in out, f"ALPN h2,http/1.1 agrees on http/1.1: {re.findall(r'.*ALPN.*', out)}")

    sess12 = f"{work}/sess12.pem"
    s_client(p2, "-servername", "a.test", "-tls1_2", "-sess_out", sess12)
    rc, out = s_client(p2, "-servername", "a.test", "-tls1_2", "-sess_in", sess12)
    check("Reused, TLSv1.2" in out, f"TLS 1.2 session resumed: {re.findall(r'(?:New|Reused), .*', out)}")
    sess13 = f"{work}/sess13.pem"
    request = b"GET /echo/resume HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    rc, out = s_client(p2, "-servername", "a.test", "-tls1_3", "-ign_eof", "-sess_out", sess13, stdin=request)
    check("HTTP/1.1 200" in out, f"a request through s_client is answered: {re.findall(r'HTTP/1.1 .*', out)}")
    rc, out = s_client(p2, "-servername", "a.test", "-tls1_3", "-ign_eof", "-sess_in", sess13, stdin=request)
    check("Reused, TLSv1.3" in out, f"TLS 1.3 session resumed from the ticket: {re.findall(r'(?:New|Reused), .*', out)}")

    # --- proxying over TLS ------------------------------------------------------------
    resolve = ["--resolve", f"a.test:{p2}:127.0.0.1"]
    status, headers, body, code, err = curl("-k", *resolve, f"https://a.test:{p2}/echo/path?x=1")
    js = as_json(body) or {}
    h = js.get("headers", {})
    check(status == 200 and js.get("path") == "/path?x=1", f"curl over TLS reaches the upstream: {status} {body[:200]} {err}")
    check(h.get("x-forwarded-proto") == "https", f"upstream sees X-Forwarded-Proto: https ({h.get('x-forwarded-proto')})")
    check(h.get("x-forwarded-port") == str(p2), f"upstream sees X-Forwarded-Port: {p2} ({h.get('x-forwarded-port')})")
    status, headers, body = plain(p1, "GET", "/echo/path", {"Host": "a.test"})
    h = (as_json(body) or {}).get("headers", {})
    check(status == 200 and h.get("x-forwarded-proto") == "http" and h.get("x-forwarded-port") == str(p1),
          f"over plain HTTP the upstream sees http and {p1}: {status} {h.get('x-forwarded-proto')} {h.get('x-forwarded-port')}")
    status, headers, body, code, err = curl("--cacert", a_path, *resolve, f"https://a.test:{p2}/echo/verified")
    check(status == 200, f"curl --cacert (no -k) verifies a.test's certificate: {status} exit {code} {err.strip()}")
    status, headers, body, code, err = curl("--cacert", wb_path, *resolve, f"https://a.test:{p2}/echo/verified")
    check(status is None and code == 60, f"curl --cacert of another certificate fails verification: {status} exit {code}")

    # --- protocols: ["https"], snis -----------------------------------------------------
    status, headers, body = plain(p1, "GET", "/secure/x", {"Host": "a.test"})
    js = as_json(body) or {}
    check(status == 426 and js.get("message") == "Please use HTTPS protocol", f"https-only route over HTTP: 426 {status} {body[:200]}")
    check("upgrade" in headers.get("connection", "").lower(), f"426 has Connection: Upgrade ({headers.get('connection')})")
    check(headers.get("upgrade") == "TLS/1.2, HTTP/1.1", f"426 has Upgrade: TLS/1.2, HTTP/1.1 ({headers.get('upgrade')})")
    status, headers, body = plain(p1, "GET", "/redir/x?q=1&r=2", {"Host": f"a.test:{p1}"})
    check(status == 301 and headers.get("location") == "https://a.test/redir/x?q=1&r=2",
          f"https_redirect_status_code 301: {status} Location: {headers.get('location')}")
    for path in ("/secure/x", "/redir/x"):
        status, headers, body, code, err = curl("-k", *resolve, f"https://a.test:{p2}{path}")
        check(status == 200, f"{path} over TLS: 200 ({status} {err.strip()})")
    status, headers, body, code, err = curl("-k", *resolve, f"https://a.test:{p2}/sni/x")
    check(status == 200, f"route with snis [a.test]: SNI a.test matches ({status} {body[:200]})")
    status, headers, body, code, err = curl("-k", *resolve, "-H", "Host: other.test", f"https://a.test:{p2}/sni/x")
    check(status == 200, f"route with snis [a.test]: SNI a.test with another Host header matches ({status} {body[:200]})")
    status, headers, body, code, err = curl("-k", "--resolve", f"b.test:{p2}:127.0.0.1", f"https://b.test:{p2}/sni/x")
    check(status == 404 and (as_json(body) or {}).get("message") == "no Route matched with those values",
          f"route with snis [a.test]: SNI b.test gets 404 ({status} {body[:200]})")
    # curl sends no SNI for an IP address: a route's snis can not match a TLS connection without a name
    status, headers, body, code, err = curl("-k", "-H", "Host: a.test", f"https://127.0.0.1:{p2}/sni/x")
    check(status == 404, f"route with snis [a.test]: TLS without SNI gets 404 ({status} {body[:200]})")

    # --- plain HTTP, garbage, silence on the TLS port -----------------------------------
    status, headers, body, code, err = curl(f"http://127.0.0.1:{p2}/")
    check(status == 400 and "The plain HTTP request was sent to HTTPS port" in body,
          f"plain HTTP to the TLS port: 400 and nginx's message ({status} {body[:200]!r} {err.strip()})")
    check(headers.get("connection", "").lower() == "close", f"... with Connection: close ({headers.get('connection')})")

    def fresh():
        s = socket.create_connection(("127.0.0.1", p2), timeout=10)
        return s

    with fresh() as s:
        s.sendall(b"\x00\x01\x02garbage")
        closed, took, got = read_until_closed(s, 10)
    check(closed and took < 5, f"garbage: the connection is closed ({closed}, {took:.1f} s, {got[:40]!r})")
    hello13 = client_hello()
    hello11 = client_hello(ssl.TLSVersion.TLSv1_1)
    with fresh() as s:
        s.sendall(hello11)
        closed, took, got = read_until_closed(s, 10)
    check(closed and took < 5 and got[:1] in (b"", b"\x15"),
          f"a TLS 1.1 ClientHello: alert and close ({closed}, {took:.1f} s, {got[:20].hex()})")

    def timed_out(payload):
        with fresh() as s:
            if payload:
                s.sendall(payload)
            return read_until_closed(s, 20)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        silent = pool.submit(timed_out, b"")
        half = pool.submit(timed_out, hello13[: len(hello13) // 2])
        for what, (closed, took, got) in (("a silent client", silent.result()), ("half a ClientHello", half.result())):
            check(closed and HANDSHAKE_TIMEOUT - 0.5 <= took <= HANDSHAKE_TIMEOUT + 8,
                  f"{what}: closed after --ssl-handshake-timeout {HANDSHAKE_TIMEOUT} s ({closed}, {took:.1f} s)")
    if not check(argus.alive(), f"argus still runs after the bad clients ({argus.died()})"):
        return
    got = served("a.test")
    check(got == "a.test (old)", f"and still serves handshakes ({got})")

    # --- logging ------------------------------------------------------------------------
    curl("-k", *resolve, f"https://a.test:{p2}/echo/log-tls")
    plain(p1, "GET", "/echo/log-plain", {"Host": "a.test"})

    def log_entries():
        if not os.path.exists(file_log):
            return []
        out = []
        for line in open(file_log).read().splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"unparsable": line})
        return out

    def entry(path):
        for e in log_entries():
            if str(e.get("request", {}).get("uri", "")).startswith(path):
                return e
        return None

    wait_for(lambda: entry("/echo/log-tls") and entry("/echo/log-plain"), 15, "file-log lines")
    e = (entry("/echo/log-tls") or {}).get("request", {})
    check(str(e.get("url", "")).startswith(f"https://a.test:{p2}/echo/log-tls"), f"file-log: request.url over TLS is https ({e.get('url')})")
    tls = e.get("tls")
    check(isinstance(tls, dict) and tls.get("version") == "TLSv1.3" and str(tls.get("cipher", "")).startswith("TLS_AES_")
          and tls.get("client_verify") == "NONE" and set(tls) == {"version", "cipher", "client_verify"},
          f"file-log: request.tls is {{version TLSv1.3, cipher TLS_AES_..., client_verify NONE}} ({tls})")
    e = (entry("/echo/log-plain") or {}).get("request", {})
    check(str(e.get("url", "")).startswith("http://") and "tls" not in e,
          f"file-log: over plain HTTP, url is http and there is no request.tls ({e.get('url')}, tls: {e.get('tls', 'absent')})")
    check(all("unparsable" not in x for x in log_entries()), "file-log: every line is JSON")

    # --- no descriptor leak -------------------------------------------------------------
    def stable_fds():
        counts = []
        for _ in range(4):
            counts.append(argus.fds())
            time.sleep(0.25)
        return min(counts)

    time.sleep(0.5)
    baseline = stable_fds()

    def bad_client(kind):
        try:
            s = socket.create_connection(("127.0.0.1", p2), timeout=15)
        except OSError:
            return "connect failed"
        try:
            if kind == "garbage":
                s.sendall(b"\x00\x01\x02garbage")
                return read_until_closed(s, 15)[0]
            if kind == "plain":
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                return read_until_closed(s, 15)[0]
            if kind == "tls11":
                s.sendall(hello11)
                return read_until_closed(s, 15)[0]
            if kind == "abort":  # full ClientHello, read the ServerHello, reset
                s.sendall(hello13)
                s.recv(64)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return True
            if kind == "half-close":  # half a ClientHello, then close
                s.sendall(hello13[:100])
                time.sleep(0.05)
                return True
            if kind == "connect-close":
                return True
            if kind == "silent":
                return read_until_closed(s, 20)[0]
        except OSError:
            return True
        finally:
            s.close()

    batches = [("garbage", 45), ("plain", 45), ("tls11", 40), ("abort", 40), ("half-close", 15), ("connect-close", 10),
               ("silent", 5)]
    results, growth = [], []
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        for kind, n in batches:
            before = argus.fds()
            results += list(pool.map(bad_client, [kind] * n))
            time.sleep(0.3)
            growth.append(f"{kind} x{n}: {argus.fds() - before:+d}")
    # and a few with the real clients
    for _ in range(3):
        s_client(p2, "-servername", "a.test", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        curl(f"http://127.0.0.1:{p2}/")
    total = sum(n for _, n in batches)
    check(results.count(True) == total, f"{total} failed handshakes, each closed by the server "
          f"({results.count(True)} closed, others: {[r for r in results if r is not True][:5]})")
    if not check(argus.alive(), f"argus survives 200 failed handshakes ({argus.died()})"):
        return
    ok = wait_for(lambda: argus.fds() <= baseline + 3, 20)

    def fd_kinds():
        targets = []
        for fd in os.listdir(f"/proc/{argus.proc.pid}/fd"):
            try:
                targets.append(re.sub(r"\[\d+\]$", "", os.readlink(f"/proc/{argus.proc.pid}/fd/{fd}")))
            except OSError:
                pass
        return {t: targets.count(t) for t in sorted(set(targets))}

    check(ok, f"no descriptor leak: {argus.fds()} open descriptors 20 s after the 200 failed handshakes, {baseline} before "
          f"(growth by batch, right after it: {', '.join(growth)}; now open: {fd_kinds()})")
    got = served("a.test")
    check(got == "a.test (old)", f"handshakes still work after them ({got})")

    # --- metrics ------------------------------------------------------------------------
    m1 = metrics(argus.status)
    for version in ("TLSv1.2", "TLSv1.3"):
        before, after = metric(m0, "argus_tls_handshakes_total", version=version), metric(m1, "argus_tls_handshakes_total", version=version)
        check(after > before, f'argus_tls_handshakes_total{{version="{version}"}} went up ({before} -> {after})')
    for reason in ("plain_http", "not_tls", "protocol_error", "timeout", "client_closed"):
        value = metric(m1, "argus_tls_handshake_failures_total", reason=reason)
        check(value > 0, f'argus_tls_handshake_failures_total{{reason="{reason}"}} counted ({value})')
    check(metric(m1, "argus_tls_handshake_failures_total", reason="plain_http") >= 45 + 3 + 1,
          f"every plain HTTP request on the TLS port counted ({metric(m1, 'argus_tls_handshake_failures_total', reason='plain_http')})")
    check(metric(m1, "argus_tls_handshake_failures_total", reason="not_tls") >= 45 + 1,
          f"every garbage client counted as not_tls ({metric(m1, 'argus_tls_handshake_failures_total', reason='not_tls')})")
    check(metric(m1, "argus_tls_handshake_failures_total", reason="protocol_error") >= 40,
          f"every TLS 1.1 ClientHello counted as protocol_error ({metric(m1, 'argus_tls_handshake_failures_total', reason='protocol_error')})")
    check(metric(m1, "argus_tls_handshake_failures_total", reason="timeout") >= 2 + 5,
          f"every silent or half-hello client counted as timeout ({metric(m1, 'argus_tls_handshake_failures_total', reason='timeout')})")

    # --- certificate replaced by SIGHUP, with a keep-alive connection open -----------------
    conn = SNIConnection("a.test", p2, "a.test")
    responses = []
    for i in range(2):
        conn.request("GET", f"/echo/keepalive-{i}")
        r = conn.getresponse()
        r.read()
        responses.append(r.status)
    sock_before = conn.sock
    local = sock_before.getsockname() if sock_before else None
    old_cert = sock_before.getpeercert(binary_form=True) if sock_before else None
    check(responses == [200, 200] and names.get(old_cert) == "a.test (old)",
          f"keep-alive TLS connection: two requests on it ({responses}, {names.get(old_cert)})")
    write_config(reloaded=True)
    argus.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: served("a.test") == "a.test (new)", 30, "the new certificate"),
          f"after SIGHUP a new handshake for a.test gets the new certificate ({served('a.test')})")
    try:
        conn.request("GET", "/echo/keepalive-2")
        r = conn.getresponse()
        r.read()
        status = r.status
    except (OSError, http.client.HTTPException) as exc:
        status = f"error {exc!r}"
    check(status == 200 and conn.sock is sock_before and conn.sock.getsockname() == local,
          f"the connection opened before the reload completes another request on the same socket ({status})")
    conn.close()
    got = served("example.com")
    check(got == "C", f"with an SNI '*': example.com gets certificate C (got {got})")
    no_sni = peer(p2, None)[0]
    check(no_sni in defaults, f"with an SNI '*': no SNI still gets the default (got {names.get(no_sni, 'unknown')})")
    for sni, want in (("test.wildcard.com", "A"), ("wildcard.eu", "A"), ("wildcard.org", "B"),
                      ("test.wildcard.org", "B"), ("test.www.wildcard.com", "B"), ("unknown.test", "C")):
        got = served(sni)
        check(got == want, f"after the reload SNI {sni} gets certificate {want} (got {got})")
    status, headers, body, code, err = curl("--cacert", a_path, *resolve, f"https://a.test:{p2}/echo/verified")
    check(status is None and code == 60, f"curl --cacert of the replaced certificate now fails verification: {status} exit {code}")

    # --- restart: the same default certificate; an ssl admin listener --------------------
    default_files = {n: open(f, "rb").read() for n, f in files.items() if os.path.exists(f)}
    served_before = peer(p2, None)[0]
    check(argus.stop() == 0, "argus stopped (SIGTERM) with exit 0")
    p3 = free_port()
    argus2 = Argus(work, "argus (restart, ssl admin)", config_path, f"127.0.0.1:{p3} ssl", data)
    argus2.args[argus2.args.index("--admin-listen") + 1] = f"127.0.0.1:{argus2.admin} ssl"
    gateways.append(argus2)
    if check(argus2.start(), "argus restarted on the same data directory with an ssl admin listener"):
        check(wait_for(lambda: peer(p3, None)[0] is not None, 20), "the restarted ssl listener takes handshakes")
        check(peer(p3, None)[0] == served_before, "after the restart the same default certificate is served")
        check({n: open(f, "rb").read() for n, f in files.items() if os.path.exists(f)} == default_files and len(default_files) == 4,
              "the default pair's files are unchanged by the restart")
        status, headers, body, code, err = curl("-k", f"https://127.0.0.1:{argus2.admin}/")
        js = as_json(body)
        check(status == 200 and isinstance(js, dict) and "version" in js,
              f"ssl admin listener: curl -k https://127.0.0.1:A/ answers node info ({status} {body[:200]!r} {err.strip()})")
        rc, out = s_client(argus2.admin, "-noservername")
        check(subject(out) == DEFAULT_SUBJECT, f"the admin listener serves the default certificate: {subject(out)}")
        status, headers, body, code, err = curl("-k", "--resolve", f"a.test:{p3}:127.0.0.1", f"https://a.test:{p3}/echo/after-restart")
        check(status == 200, f"proxying over TLS after the restart ({status} {err.strip()})")
    check(argus2.stop() == 0, "the restarted argus stopped with exit 0")

    # --- --ssl-cert -----------------------------------------------------------------------
    p4 = free_port()
    argus3 = Argus(work, "argus (--ssl-cert)", None, f"127.0.0.1:{p4} ssl", f"{work}/data3",
                   ["--ssl-cert", custom_path, "--ssl-cert-key", custom_path[:-4] + ".key"])
    gateways.append(argus3)
    if check(argus3.start(), "argus started with --ssl-cert/--ssl-cert-key"):
        got = wait_for(lambda: peer(p4, None)[0] is not None, 20) and names.get(peer(p4, None)[0], "unknown")
        check(got == "custom default", f"--ssl-cert is the certificate served without SNI ({got})")
        got = names.get(peer(p4, "anything.test")[0], "unknown")
        check(got == "custom default", f"--ssl-cert is the certificate served for an unknown SNI ({got})")
    check(argus3.stop() == 0, "the --ssl-cert argus stopped with exit 0")

    # --- an invalid certificate in the config file ---------------------------------------
    bad_path = f"{work}/bad.json"
    with open(bad_path, "w") as f:
        json.dump({"_format_version": "3.0", "certificates": [{"cert": a_cert, "key": a_new_key, "snis": [{"name": "a.test"}]}]}, f)
    args = [ARGUS, "start", "--config", bad_path, "--proxy-listen", f"127.0.0.1:{free_port()}, 127.0.0.1:{free_port()} ssl",
            "--admin-listen", f"127.0.0.1:{free_port()}", "--status-listen", f"127.0.0.1:{free_port()}",
            "--data-dir", f"{work}/data-bad"]
    bad = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = bad.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        bad.kill()
        out, _ = bad.communicate()
    out = out.decode(errors="replace")
    check(bad.returncode not in (0, None, -9), f"argus start with a certificate whose key is another's exits non-zero ({bad.returncode})")
    check(bad_path in out and "certificates[0]" in out and "certificate does not match key" in out,
          f"... naming the file, certificates[0] and Kong's message: {out.strip()[-500:]!r}")

    upstream_mutual_tls(work, gateways, servers)


class ClientCertEcho(http.server.BaseHTTPRequestHandler):
    """An https upstream that demands a client certificate and answers with its common name."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        peer = self.connection.getpeercert() or {}
        names = dict(item[0] for item in peer.get("subject", ()))
        body = ("client=" + names.get("commonName", "none")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def upstream_mutual_tls(work, gateways, servers):
    """A service's client_certificate (and an upstream's, as Kong's fallback) presented to an https
    upstream with CERT_REQUIRED; --trusted-ca makes tls_verify trust that upstream's own CA."""
    up_cert, up_key, up_path = make_cert(work, "mtls-up", "mtls-up", "rsa")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{work}/mtls-up.key",
                    "-out", up_path, "-days", "30", "-subj", "/CN=mtls-up", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    client_cert, client_key, client_path = make_cert(work, "mtls-client", "argus-client", "ec")
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), ClientCertEcho)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(up_path, f"{work}/mtls-up.key")
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(client_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    cid = "5e0b6f3c-8a9d-4e57-9c1f-1d2e3f4a5b6c"
    config = {
        "_format_version": "3.0",
        "certificates": [{"id": cid, "cert": client_cert, "key": client_key}],
        "upstreams": [{"name": "mtls-pool", "client_certificate": {"id": cid}, "targets": [{"target": f"127.0.0.1:{port}"}]}],
        "services": [
            {"name": "with-cert", "url": f"https://127.0.0.1:{port}", "client_certificate": {"id": cid},
             "routes": [{"paths": ["/with-cert"]}]},
            {"name": "verified", "url": f"https://127.0.0.1:{port}", "client_certificate": {"id": cid}, "tls_verify": True,
             "routes": [{"paths": ["/verified"]}]},
            {"name": "without-cert", "url": f"https://127.0.0.1:{port}", "routes": [{"paths": ["/without-cert"]}]},
            {"name": "via-upstream", "protocol": "https", "host": "mtls-pool", "port": 443, "routes": [{"paths": ["/via-upstream"]}]},
        ],
    }
    path = f"{work}/mtls.json"
    with open(path, "w") as f:
        json.dump(config, f)
    for trusted in (None, up_path):
        p = free_port()
        extra = ["--trusted-ca", f"system,{trusted}"] if trusted else []
        argus = Argus(work, f"argus (upstream mTLS, trusted CA {trusted})", path, f"127.0.0.1:{p}", f"{work}/data-mtls", extra)
        gateways.append(argus)
        if not check(argus.start(), f"argus started for upstream mutual TLS (--trusted-ca {trusted})"):
            continue
        status, _, body = plain(p, "GET", "/with-cert", {"Host": "x.test"})
        check(status == 200 and body == "client=argus-client", f"a service's client_certificate is presented upstream ({status} {body[:120]})")
        status, _, body = plain(p, "GET", "/via-upstream", {"Host": "x.test"})
        check(status == 200 and body == "client=argus-client",
              f"without one of its own, the service presents its upstream's client_certificate ({status} {body[:120]})")
        status, _, body = plain(p, "GET", "/without-cert", {"Host": "x.test"})
        check(status == 502, f"no client certificate: the upstream refuses the handshake, 502 ({status})")
        status, _, body = plain(p, "GET", "/verified", {"Host": "x.test"})
        if trusted:
            check(status == 200, f"tls_verify against --trusted-ca: the upstream's certificate verifies ({status} {body[:120]})")
        else:
            check(status == 502, f"tls_verify with the system's roots only: a self-signed upstream is refused, 502 ({status})")
        check(argus.stop() == 0, "the upstream mTLS argus stopped with exit 0")


if __name__ == "__main__":
    main()
