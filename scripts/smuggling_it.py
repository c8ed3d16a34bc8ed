#!/usr/bin/env python3
"""Request smuggling, differentially: Argus (argv[1]) against h11 as the reference HTTP/1.1 parser.

Every case is a byte string a client sends on one connection: one or two requests built from
randomly chosen framing variants (Content-Length and Transfer-Encoding spellings, both at once,
duplicates, odd whitespace, bare LF or CR, chunk sizes with extensions, signs, prefixes or
overflow, trailers, request-line and Host oddities), with a second request after the first's body
(where a desynchronised parser would find a smuggled request). Each request's target names its
case and position: /c<case>/r<position>.

The upstream is a raw TCP server that parses what Argus forwards with h11 (as a server would).
For each case, what h11 makes of the client's bytes is the reference: the request heads it
accepts, in order, and the bodies of the complete ones. The checks, per case:
  - everything Argus sent upstream parses as HTTP/1.1 (h11 accepts it);
  - Argus forwarded no more request heads than the reference accepted, and the i-th forwarded
    request is the reference's i-th (method and target), so no request boundary moved;
  - a complete forwarded request has the reference's body, byte for byte.
Argus may be stricter than h11 (refuse what h11 accepts); the script counts those cases.

Then the other direction: an upstream answers GET /resp/<case> with generated response bytes
(status-line, framing and header variants, close-delimited bodies), and h11 as a client is the
reference for what they mean. Per case: the client gets a well-formed response; where h11 reads a
valid response Argus passes on its status and body (or answers 502, being stricter); where h11
finds it malformed Argus answers 502 (or cuts the response short, when the fault lies past what it
had already sent); and an upstream connection that carried a malformed response is never used
again.

The run uses a fixed seed; ARGUS_SMUGGLING_CASES (default 600 per direction) and
ARGUS_SMUGGLING_SEED change it; ARGUS_SMUGGLING_VERBOSE=1 lists the responses Argus refuses and h11
accepts (both framings at once, obs-fold, `Content-Length: 7, 7`, bare LF: refused on purpose).
Prints "N passed, M failed".
"""
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

import h11

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from itsupport import Tally, finish, free_port, wait_for  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
CASES = int(os.environ.get("ARGUS_SMUGGLING_CASES", "600"))
SEED = int(os.environ.get("ARGUS_SMUGGLING_SEED", "20261122"))
TALLY = Tally()
check = TALLY.check

# What the upstream saw: (case, position) -> {"method", "target", "body" (None until complete)}.
seen, seen_lock = {}, threading.Lock()
upstream_errors = []  # bytes h11 could not parse, with the error


def key_of(target):
    """(case, position) from a target /c<case>/r<position>... (origin or absolute form), or None."""
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
    try:
        parts = target.split("/")
        return int(parts[1][1:]), int(parts[2][1:].split("?")[0])
    except (IndexError, ValueError):
        return None


def listen(handle):
    """A loopback listener on a free port whose connections `handle(conn)` serves."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    threading.Thread(target=serve, args=(listener, handle), daemon=True).start()
    return listener


def serve(listener, handle):
    """Accepts connections, each handled by `handle(conn)` on a thread of its own."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def upstream_connection(conn):
    """Parses the forwarded stream with h11, records each request, answers 200 to each."""
    parser = h11.Connection(h11.SERVER)
    raw = b""
    current = None
    try:
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = conn.recv(65536)
                raw += data
                parser.receive_data(data)
                if not data:
                    return
                continue
            if isinstance(event, h11.Request):
                target = event.target.decode("latin-1")
                current = key_of(target)
                if current is not None:
                    with seen_lock:
                        seen[current] = {"method": event.method.decode(), "target": target, "body": None, "parts": []}
            elif isinstance(event, h11.Data):
                if current is not None:
                    with seen_lock:
                        seen[current]["parts"].append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                if current is not None:
                    with seen_lock:
                        seen[current]["body"] = b"".join(seen[current]["parts"])
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                parser.send(h11.Response(status_code=200, headers=[("Content-Length", "2")]))
                parser.send(h11.Data(data=b"ok"))
                parser.send(h11.EndOfMessage())
                parser.start_next_cycle()
                current = None
            elif isinstance(event, h11.ConnectionClosed):
                return
    except h11.RemoteProtocolError as error:
        upstream_errors.append((raw[-600:], str(error)))
    except OSError:
        pass
    finally:
        conn.close()


def reference(data):
    """What h11 makes of a client's bytes: the heads it accepts, in order, each with its body
    when the request is complete."""
    parser = h11.Connection(h11.SERVER)
    parser.receive_data(data)
    parser.receive_data(b"")  # the client sends nothing more
    requests = []
    try:
        while True:
            event = parser.next_event()
            if event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
                break
            if isinstance(event, h11.Request):
                requests.append({"method": event.method.decode(), "target": event.target.decode("latin-1"),
                                 "body": None, "parts": []})
            elif isinstance(event, h11.Data):
                requests[-1]["parts"].append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                requests[-1]["body"] = b"".join(requests[-1]["parts"])
                parser.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                parser.send(h11.EndOfMessage())
                if parser.our_state is h11.MUST_CLOSE or parser.their_state is h11.MUST_CLOSE:
                    break
                parser.start_next_cycle()
    except (h11.RemoteProtocolError, h11.LocalProtocolError):
        pass
    return requests


# Framing variants. Each returns (header lines, encoded body) for a body.
def cl_variants(body):
    n = len(body)
    return [
        [f"Content-Length: {n}"], [f"Content-Length:{n}"], [f"Content-Length:  {n}  "], [f"content-length: {n}"],
        [f"Content-Length: 0{n}"], [f"Content-Length: +{n}"], [f"Content-Length: -{n}"], [f"Content-Length: {n}, {n}"],
        [f"Content-Length: {n},{n + 1}"], [f"Content-Length: {n}", f"Content-Length: {n}"],
        [f"Content-Length: {n}", f"Content-Length: {n + 2}"], [f"Content-Length: {n}\x00"], [f"Content-Length: 0x{n:x}"],
        [f"Content-Length: {n} 1"], ["Content-Length: "], [f"Content-Length : {n}"], [f"Content-Length\t: {n}"],
        [f"Content-Length: 99999999999999999999{n}"], [f"Content_Length: {n}"], [f"Content-Length: {n + 3}"],
        [f"Content-Length: {max(0, n - 2)}"],
    ]


TE_VALUES = ["chunked", "Chunked", "CHUNKED", " chunked", "chunked ", "\tchunked", "chunked, chunked",
             "identity, chunked", "chunked, identity", "gzip, chunked", "chunked;q=1", "x-chunked", "chunk",
             "chunked\x0b", "\x0cchunked", "chunked,", ",chunked", "", "identity"]


def chunked_bodies(body):
    """The body chunked, well (first) and in odd or broken ways: (size line, what follows the data)."""
    a, b = body[:3], body[3:]
    plain = f"{len(a):x}\r\n".encode() + a + b"\r\n" + f"{len(b):x}\r\n".encode() + b + b"\r\n0\r\n\r\n"
    n = len(body)
    end = b"\r\n0\r\n\r\n"
    variants = [
        (f"{n:x};ext=1\r\n", end), (f"{n:X}\r\n", end), (f"0{n:x}\r\n", end), (f"{n:x} \r\n", end),
        (f" {n:x}\r\n", end), (f"+{n:x}\r\n", end), (f"-{n:x}\r\n", end), (f"0x{n:x}\r\n", end),
        (f"{n:x}\n", b"\n0\n\n"), (f"{n:x}\r\n", b"\r\n0\r\nX-Trailer: 1\r\n\r\n"), (f"{n:x}\r\n", b"\r\n0\r\n"),
        (f"{n:x}\r\n", b"0\r\n\r\n"), (f"{n + 1:x}\r\n", end), (f"fffffffffffffffff{n:x}\r\n", end),
        (f"{n:x}\r\n", b"\r\n0;x=y\r\n\r\n"), (f"{n:x}\r\r\n", end),
    ]
    return [plain] + [size.encode() + body + tail for size, tail in variants]


REQUEST_LINES = ["{m} {t} HTTP/1.1", "{m}  {t} HTTP/1.1", "{m} {t}  HTTP/1.1", "{m} {t} HTTP/1.1 ", "{m}\t{t} HTTP/1.1",
                 "{m} {t} HTTP/1.0", "{m} {t} HTTP/1.2", "{m} {t} HTTP/2.0", "{m} {t} http/1.1",
                 "{m} http://h.test{t} HTTP/1.1", "{m} {t}\x00 HTTP/1.1", "{m} {t}#frag HTTP/1.1"]
HOSTS = [["Host: h.test"], ["Host: h.test"], ["Host: h.test"], [], ["Host: a", "Host: b"], ["Host: h.test:80"],
         ["Host: a b"], ["Host:"], ["host: h.test"], ["Host: h.test\r\nX-Pad: 1"]]
LINE_ENDS = ["\r\n"] * 12 + ["\n", "\r", "\r\r\n", " \r\n", "\n\r"]
EXTRA = [[], [], [], ["X-A: 1"], ["X-A : 1"], ["X-A: 1", " folded"], ["X-A:\t1"], ["X-Ä: 1"], ["Connection: close"],
         ["Connection: keep-alive, Content-Length"], ["Connection: Transfer-Encoding"], ["Expect: 100-continue"],
         ["X-A: a\x00b"], ["X-A: a\rb"], [": empty-name"], ["X A: 1"]]


def pick(rng, variants, usual=0.5):
    """The first (well-formed) variant with probability `usual`, else any."""
    return variants[0] if rng.random() < usual else rng.choice(variants)


def one_request(rng, case, position, allow_body=True):
    target = f"/c{case}/r{position}"
    body = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(1, 12)))
    kind = rng.choice(["none", "cl", "cl", "te", "te", "both", "te-cl"]) if allow_body else "none"
    method = rng.choice(["GET", "POST", "PUT"]) if kind == "none" else rng.choice(["POST", "PUT", "PATCH"])
    lines = list(pick(rng, HOSTS, 0.8)) + list(pick(rng, EXTRA, 0.7))
    encoded = b""
    if kind == "cl":
        lines += pick(rng, cl_variants(body))
        encoded = body
    elif kind in ("te", "both", "te-cl"):
        te = [f"Transfer-Encoding: {pick(rng, TE_VALUES)}"]
        if rng.random() < 0.1:
            te.append(f"Transfer-Encoding: {pick(rng, TE_VALUES)}")
        if rng.random() < 0.1:
            te = [rng.choice(["Transfer-Encoding : chunked", "Transfer_Encoding: chunked", "Transfer-Encoding\t: chunked",
                              " Transfer-Encoding: chunked"])]
        encoded = pick(rng, chunked_bodies(body))
        if kind == "both":
            lines += te + pick(rng, cl_variants(body))[:1]
        elif kind == "te-cl":
            lines += pick(rng, cl_variants(encoded))[:1] + te
        else:
            lines += te
    rng.shuffle(lines)
    request_line = pick(rng, REQUEST_LINES, 0.85)
    head = [request_line.format(m=method, t=target)] + lines
    if rng.random() < 0.85:
        ends = ["\r\n"] * (len(head) + 1)
    else:
        ends = [rng.choice(LINE_ENDS) for _ in range(len(head) + 1)]
    text = "".join(line + end for line, end in zip(head, ends)) + ends[-1]
    return text.encode("latin-1") + encoded


def make_case(rng, case):
    data = one_request(rng, case, 0)
    if rng.random() < 0.85:
        data += one_request(rng, case, 1, allow_body=rng.random() < 0.7)
    return data


def send_case(port, data):
    """Sends the bytes, then reads what comes back until the connection is quiet or closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        s.sendall(data)
        s.settimeout(0.4)
        received = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            received += chunk
        return received
    finally:
        s.close()


def start_argus(work, tag, upstream, service_extra=""):
    """Starts Argus with one service for `upstream` and a route for everything (path kept as it
    is); returns (process, proxy port), the port None if it never answered."""
    proxy, admin, status = free_port(), free_port(), free_port()
    open(f"{work}/kong-{tag}.yml", "w").write(f"""_format_version: "3.0"
services:
  - name: raw
    url: http://127.0.0.1:{upstream}
{service_extra}    routes: [{{name: all, paths: ["/"], strip_path: false}}]
""")
    log = open(f"{work}/argus.log", "a")
    argus = subprocess.Popen([ARGUS, "start", "--config", f"{work}/kong-{tag}.yml", "--proxy-listen", f"127.0.0.1:{proxy}",
                              "--admin-listen", f"127.0.0.1:{admin}", "--status-listen", f"127.0.0.1:{status}",
                              "--data-dir", f"{work}/data-{tag}", "--workers", "1"], stdout=log, stderr=subprocess.STDOUT)

    def ready():
        with socket.create_connection(("127.0.0.1", proxy), timeout=1) as s:
            s.sendall(b"GET /ready HTTP/1.1\r\nHost: h.test\r\n\r\n")
            return s.recv(100).startswith(b"HTTP/1.1 ")
    ok = check(wait_for(ready, 30, "argus"), f"Argus answers on its proxy port ({tag})")
    return argus, proxy if ok else None


# --- The response direction ---------------------------------------------------------------------

responses = {}  # case -> the bytes the upstream answers GET /resp/<case> with, and whether it then closes
poisoned_reuse = []  # cases whose upstream connection got another request after a malformed response


def read_response(receive):
    """Reads one response to a GET with h11 as a client; `receive()` gives the next bytes (b"": the
    connection closed; None: nothing more is coming). Returns (status, body, complete)."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "h.test")]))
    client.send(h11.EndOfMessage())
    status, parts = None, []
    try:
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA:
                data = receive()
                if data is None:
                    return status, b"".join(parts), False
                client.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed):
                return status, b"".join(parts), False
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return status, b"".join(parts), True
    except (h11.RemoteProtocolError, h11.LocalProtocolError):
        return status, b"".join(parts), False


def response_reference(data, closes):
    """What h11 as a client makes of a response to a GET: (status, body), or None if malformed
    (or cut short)."""
    chunks = [data] + ([b""] if closes else [])
    status, body, complete = read_response(lambda: chunks.pop(0) if chunks else None)
    return (status, body) if complete else None


def response_connection(conn):
    """Reads requests (h11), answers each with its case's bytes; notes a request that arrives on a
    connection whose last response was malformed."""
    parser = h11.Connection(h11.SERVER)
    poisoned = None
    try:
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = conn.recv(65536)
                parser.receive_data(data)
                if not data:
                    return
                continue
            if isinstance(event, h11.Request):
                if poisoned is not None:
                    poisoned_reuse.append(poisoned)
                    return
                target = event.target.decode("latin-1")
                case = int(target.rsplit("/", 1)[1]) if target.startswith("/resp/") else -1
            elif isinstance(event, h11.EndOfMessage):
                data, closes = responses.get(case, (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False))
                conn.sendall(data)
                if closes or b"\r\n\r\n" not in data:
                    return  # close-delimited, or a head that never ends: the close tells Argus
                if response_reference(data, closes) is None:
                    poisoned = case
                    continue
                parser = h11.Connection(h11.SERVER)  # a fresh parser: what was sent was not h11's own
            elif isinstance(event, h11.ConnectionClosed):
                return
    except (h11.RemoteProtocolError, OSError):
        pass
    finally:
        conn.close()


STATUS_LINES = ["HTTP/1.1 200 OK", "HTTP/1.1 200 ", "HTTP/1.1 200", "HTTP/1.0 200 OK", "HTTP/1.1  200 OK", "HTTP/1.1 2000 OK",
                "HTTP/1.1 99 OK", "HTTP/2 200 OK", "HTTP/1.1 20 OK", "http/1.1 200 OK", "HTTP/1.1 404 Not Found",
                "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"]
RESPONSE_EXTRA = [[], [], [], ["X-B: 1"], ["X-B : 1"], ["X-B: 1", " folded"], ["X-B: a\x00b"], ["Connection: close"],
                  ["Server: x", "Server: y"], [": v"], ["X B: 1"]]


def make_response(rng):
    """Response bytes and whether the upstream closes after them (a close-delimited body)."""
    body = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(1, 12)))
    kind = rng.choice(["cl", "cl", "te", "te", "both", "close"])
    lines = list(pick(rng, RESPONSE_EXTRA, 0.7))
    encoded, closes = body, False
    if kind == "cl":
        lines += pick(rng, cl_variants(body))
    elif kind == "close":
        closes = True
    else:
        te = [f"Transfer-Encoding: {pick(rng, TE_VALUES)}"]
        encoded = pick(rng, chunked_bodies(body))
        lines += te if kind == "te" else te + pick(rng, cl_variants(body))[:1]
    rng.shuffle(lines)
    head = [pick(rng, STATUS_LINES, 0.7)] + lines
    ends = ["\r\n"] * (len(head) + 1) if rng.random() < 0.85 else [rng.choice(LINE_ENDS) for _ in range(len(head) + 1)]
    text = "".join(line + end for line, end in zip(head, ends)) + ends[-1]
    return text.encode("latin-1") + encoded, closes


def fetch(port, request):
    """Sends one request to Argus and reads its answer with h11 as a client, until the response
    ends, the connection closes, or 2 s pass: (status, body, complete)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(request)

        def receive():
            try:
                return s.recv(65536)
            except socket.timeout:
                return None
        return read_response(receive)


def response_cases(work, rng):
    listener = listen(response_connection)
    argus, proxy = start_argus(work, "responses", listener.getsockname()[1], "    retries: 0\n")
    try:
        if proxy is None:
            return argus
        stricter = 0
        for case in range(CASES):
            data, closes = make_response(rng)
            responses[case] = (data, closes)
            expected = response_reference(data, closes or b"\r\n\r\n" not in data)
            got = fetch(proxy, f"GET /resp/{case} HTTP/1.1\r\nHost: h.test\r\n\r\n".encode())
            status_, body, complete = got
            check(status_ is not None, f"response case {case}: the client got a response head: {data!r}")
            if expected is None:
                check(status_ == 502 or not complete,
                      f"response case {case}: h11 finds the upstream's response malformed, the client got {got}: {data!r}")
            elif status_ == 502 and complete:
                stricter += 1
                if os.environ.get("ARGUS_SMUGGLING_VERBOSE"):
                    print(f"stricter: {data!r}")
            else:
                check(complete and status_ == expected[0] and body == expected[1],
                      f"response case {case}: upstream said {expected}, the client got {got}: {data!r}")
        check(not poisoned_reuse, f"no upstream connection is used again after a malformed response: cases {poisoned_reuse[:5]}")
        print(f"{CASES} response cases: Argus answered 502 where h11 accepts the response in {stricter} cases")
        return argus
    finally:
        listener.close()


def main():
    work = tempfile.mkdtemp(prefix="argus-smuggling-it-")
    argus = second = None
    listener = listen(upstream_connection)
    try:
        argus, proxy = start_argus(work, "requests", listener.getsockname()[1])
        if proxy is None:
            return
        rng = random.Random(SEED)
        stricter = 0
        forwarded = 0
        for case in range(CASES):
            data = make_case(rng, case)
            ref = reference(data)
            send_case(proxy, data)
            time.sleep(0.02)
            with seen_lock:
                got = {pos: dict(v) for (c, pos), v in seen.items() if c == case}
            forwarded += len(got)
            positions = sorted(got)
            # Argus may refuse a request h11 takes (and, when its framing is unambiguous, go on with
            # the next one), but every request it forwards must be one h11 sees at that position.
            ok = check(all(pos < len(ref) for pos in positions),
                       f"case {case}: Argus forwarded requests {positions}, h11 accepts {len(ref)} heads: {data!r}")
            if not ok:
                continue
            for pos in positions:
                mine, theirs = got[pos], ref[pos]
                check(mine["method"] == theirs["method"] and key_of(mine["target"]) == key_of(theirs["target"]),
                      f"case {case} request {pos}: forwarded {mine['method']} {mine['target']}, h11 read "
                      f"{theirs['method']} {theirs['target']}: {data!r}")
                if mine["body"] is not None:
                    check(theirs["body"] is not None and mine["body"] == theirs["body"],
                          f"case {case} request {pos}: forwarded body {mine['body']!r}, h11 read {theirs['body']!r}: {data!r}")
            if len(positions) < len(ref):
                stricter += 1
        check(not upstream_errors, f"everything forwarded parses as HTTP/1.1 (h11): {upstream_errors[:3]}")
        check(argus.poll() is None, "Argus is still running after every case")
        print(f"{CASES} cases (seed {SEED}): {forwarded} requests forwarded; Argus refused what h11 accepts in {stricter} cases")
        second = response_cases(work, rng)
        check(second.poll() is None, "Argus is still running after every response case")
    finally:
        listener.close()
        finish([argus, second], work, TALLY)
    sys.exit(TALLY.close())


if __name__ == "__main__":
    main()
