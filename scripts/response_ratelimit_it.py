#!/usr/bin/env python3
"""Kong's response-ratelimiting plugin through Argus, after Kong's
spec/03-plugins/24-response-rate-limiting/04-access_spec.lua: an upstream names what each response
spent (`X-Kong-Limit: video=1, image=2`), Argus counts it after the response (a consumer of its
event ring) and enforces it on later requests. Checked with the `local` policy and with the `redis`
policy on Debian's redis-server shared by two Argus nodes: the remaining counters, Kong's headers
(`X-RateLimit-Limit-<name>-<period>`, `X-RateLimit-Remaining-<name>-<period>`, the access phase's
`X-RateLimit-Remaining-<name>`), the 429 (no body) for a response spending a spent limit, several
limits (and of several `X-Kong-Limit` headers the first, as Kong reads them), `block_on_first_violation` (Kong's JSON message, the
upstream not called), `hide_client_headers`, the header removed from the client's response,
`limit_by: consumer` with key-auth, a service-wide instance counting two routes, Kong's Redis keys,
fault tolerance with Redis down, and the counts on /metrics. Prints "N passed, M failed".
"""
import http.client
import http.server
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import itsupport  # noqa: E402
from itsupport import Tally, finish, free_port, metric, send_json, serve, wait_for  # noqa: E402

ARGUS = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/argus")
TALLY = Tally()
check = TALLY.check
L = 10  # Kong's ITERATIONS


class Upstream:
    """Answers with the `X-Kong-Limit` headers the query asks for (`?limit=video=1&limit=image=2`),
    counting the requests it sees."""

    def __init__(self):
        self.hits = 0
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                upstream.hits += 1
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                send_json(self, {"path": self.path}, headers=[("X-Kong-Limit", value) for value in query.get("limit", [])])

            def log_message(self, *args):
                pass

        self.port = serve(Handler).server_port


def get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=5).stdout.strip()


def config(upstream, policy, redis_port, work):
    redis = {"host": "127.0.0.1", "port": redis_port, "timeout": 500}

    def rrl(limits, **extra):
        return {"name": "response-ratelimiting", "config": dict({"policy": policy, "redis": redis, "fault_tolerant": False,
                                                                 "limits": limits}, **extra)}

    def route(name, plugins, **extra):
        return dict({"name": name, "paths": [f"/{name}"], "plugins": plugins}, **extra)

    return {
        "_format_version": "3.0",
        "consumers": [{"username": "alice", "keyauth_credentials": [{"key": "alice-key"}]},
                      {"username": "bob", "keyauth_credentials": [{"key": "bob-key"}]}],
        "services": [
            {"name": "app", "url": f"http://127.0.0.1:{upstream.port}", "routes": [
                route("one", [rrl({"video": {"hour": L}})]),
                route("counter", [rrl({"video": {"hour": L}})]),
                route("multi", [rrl({"video": {"hour": L * 2, "day": L * 4}, "image": {"hour": L}})]),
                route("combined", [rrl({"video": {"hour": L * 2 + 2}, "image": {"hour": L}})]),
                route("first", [rrl({"video": {"hour": L, "day": L * 2}, "image": {"hour": 4}}, block_on_first_violation=True)]),
                route("hidden", [rrl({"video": {"hour": L}}, hide_client_headers=True)]),
                route("keyed", [{"name": "key-auth"}, rrl({"video": {"hour": 3}})]),
                route("h2", [rrl({"video": {"hour": 2}})]),
                route("cached", [rrl({"video": {"hour": L}}), {"name": "proxy-cache", "config": {"strategy": "memory"}}]),
                # a later plugin answers in access (request-termination runs after response-ratelimiting)
                route("terminated", [rrl({"video": {"hour": L}}),
                                     {"name": "request-termination", "config": {"status_code": 403, "message": "closed"}}]),
            ]},
            # nothing listens there: the gateway answers 502
            {"name": "down", "url": f"http://127.0.0.1:{DEAD}", "retries": 0,
             "routes": [route("down", [rrl({"video": {"hour": L}})])]},
            # a service-wide instance: its routes count together
            {"name": "shared", "url": f"http://127.0.0.1:{upstream.port}",
             "plugins": [rrl({"video": {"hour": L}})],
             "routes": [route("shared-a", []), route("shared-b", [])]},
        ],
    }


def start_argus(work, name, conf):
    return itsupport.start_argus(ARGUS, work, name, conf, "http2")


SPENT = {}
DEAD = free_port()


def counted(status, at_least=None):
    """Waits until the ring's counter has counted every response that spent something so far
    (`SPENT[status]`, kept by `spend`), and nothing is on its way to Redis."""
    def done():
        return (metric(status, 'argus_response_ratelimit_increments_total{outcome="counted"') >= SPENT.get(status, 0)
                and metric(status, 'argus_response_ratelimit_redis_pending') == 0)
    return wait_for(done, 10)


def spend(proxy, status, path, headers=None):
    """A request whose response spends something: counted once it is answered 200."""
    code, response_headers, body = get(proxy, path, headers)
    if code == 200:
        SPENT[status] = SPENT.get(status, 0) + 1
    return code, response_headers, body


def main():
    # every window below is an hour or longer: the run stays inside one hour
    if time.time() % 3600 > 3600 - 90:
        time.sleep(3600 - time.time() % 3600 + 1)
    started = time.time()
    work = tempfile.mkdtemp(prefix="argus-rrl-")
    upstream = Upstream()
    redis_port = free_port()
    procs = []
    try:
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", work, "--save", "",
                                  "--appendonly", "no", "--logfile", f"{work}/redis.log"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(redis)
        check(wait_for(lambda: redis_cli(redis_port, "ping") == "PONG", 10, "redis"), "redis started")
        for policy in ["local", "redis"]:
            p, proxy, status, ready = start_argus(work, policy, config(upstream, policy, redis_port, work))
            procs.append(p)
            if check(ready, f"{policy}: argus started"):
                run(policy, proxy, status, upstream)
            if policy == "redis" and ready:
                shared_redis(work, upstream, redis_port, proxy, status)
                outage(work, upstream, redis, redis_port, procs)
    finally:
        finish(procs, work, TALLY, log_name="local.log")
    print(f"({time.time() - started:.1f} s)")
    return TALLY.close()


def run(policy, proxy, status, upstream):
    n = L // 2
    # "returns remaining counter"
    for _ in range(n):
        code, headers, _ = spend(proxy, status, "/counter?limit=video=1")
        check(code == 200, f"{policy}: spending video ({code})")
    check("x-kong-limit" not in headers, f"{policy}: the upstream's X-Kong-Limit is not passed to the client")
    check(headers.get("x-ratelimit-remaining-video") is not None, f"{policy}: the access phase's X-RateLimit-Remaining-video")
    check(counted(status), f"{policy}: {n} responses counted from the ring")
    code, headers, _ = spend(proxy, status, "/counter?limit=video=1")
    check(code == 200 and headers.get("x-ratelimit-limit-video-hour") == str(L)
          and headers.get("x-ratelimit-remaining-video-hour") == str(L - n - 1),
          f"{policy}: remaining counter {headers.get('x-ratelimit-limit-video-hour')}/{headers.get('x-ratelimit-remaining-video-hour')}")
    check(headers.get("x-ratelimit-remaining-video") == str(L - n), f"{policy}: access header {headers.get('x-ratelimit-remaining-video')}")

    # "blocks if exceeding limit": the response that spends a spent limit becomes a bodiless 429
    for i in range(L):
        code, _, _ = spend(proxy, status, "/one?limit=video=1")
        check(code == 200, f"{policy}: request {i + 1} of {L} ({code})")
    check(counted(status), f"{policy}: the {L} responses counted")
    hits = upstream.hits
    code, headers, body = spend(proxy, status, "/one?limit=video=1")
    check(code == 429 and body == b"", f"{policy}: over the limit: 429 without a body ({code}, {body[:60]!r})")
    check(headers.get("x-ratelimit-limit-video-hour") == str(L) and headers.get("x-ratelimit-remaining-video-hour") == "0",
          f"{policy}: the 429's headers {headers}")
    check(upstream.hits == hits + 1, f"{policy}: the upstream answered it (its response names the spending)")
    code, _, _ = get(proxy, "/one")
    check(code == 200, f"{policy}: a response spending nothing still passes ({code})")

    # "handles multiple limits"
    for _ in range(n):
        code, headers, _ = spend(proxy, status, "/multi?limit=video=2,%20image=1")
    counted(status)
    code, headers, _ = spend(proxy, status, "/multi?limit=video=2,%20image=1")
    check(headers.get("x-ratelimit-remaining-video-hour") == str(L * 2 - n * 2 - 2)
          and headers.get("x-ratelimit-remaining-video-day") == str(L * 4 - n * 2 - 2)
          and headers.get("x-ratelimit-remaining-image-hour") == str(L - n - 1)
          and headers.get("x-ratelimit-limit-video-day") == str(L * 4) and headers.get("x-ratelimit-limit-image-hour") == str(L),
          f"{policy}: several limits and windows {dict((k, v) for k, v in headers.items() if k.startswith('x-ratelimit'))}")

    # several X-Kong-Limit headers: the first one counts (Kong's `kong.service.response.get_header`)
    for _ in range(L):
        spend(proxy, status, "/combined?limit=image%3D1&limit=video%3D2")
    counted(status)
    code, headers, _ = spend(proxy, status, "/combined?limit=image%3D1&limit=video%3D2")
    check(code == 429 and headers.get("x-ratelimit-remaining-image-hour") == "0"
          and headers.get("x-ratelimit-remaining-video-hour") == str(L * 2 + 2),
          f"{policy}: of two X-Kong-Limit headers the first counts ({code}, video {headers.get('x-ratelimit-remaining-video-hour')})")
    code, _, _ = spend(proxy, status, "/combined?limit=video%3D1")
    check(code == 200, f"{policy}: video has its whole quota ({code})")

    # "should block on first violation": refused in the access phase, upstream not called
    code, _, _ = spend(proxy, status, "/first?limit=video=2,%20image=4")
    check(code == 200, f"{policy}: spending all of image ({code})")
    counted(status)
    hits = upstream.hits
    code, headers, body = spend(proxy, status, "/first?limit=video=2")
    check(code == 429 and json.loads(body or b"{}").get("message") == "API rate limit exceeded for 'image'",
          f"{policy}: block_on_first_violation: {code} {body[:80]!r}")
    check(upstream.hits == hits, f"{policy}: block_on_first_violation: the upstream was not called")

    # hide_client_headers
    code, headers, _ = spend(proxy, status, "/hidden?limit=video=1")
    check(code == 200 and "x-ratelimit-remaining-video-hour" not in headers and "x-ratelimit-limit-video-hour" not in headers,
          f"{policy}: hide_client_headers")

    # limit_by consumer (key-auth): each consumer has its own counters
    for _ in range(3):
        spend(proxy, status, "/keyed?limit=video=1", {"apikey": "alice-key"})
    counted(status)
    code_alice, _, _ = spend(proxy, status, "/keyed?limit=video=1", {"apikey": "alice-key"})
    code_bob, headers, _ = spend(proxy, status, "/keyed?limit=video=1", {"apikey": "bob-key"})
    check(code_alice == 429 and code_bob == 200 and headers.get("x-ratelimit-remaining-video-hour") == "2",
          f"{policy}: per consumer (alice {code_alice}, bob {code_bob})")

    # a service-wide instance counts its routes together
    for i in range(L):
        spend(proxy, status, f"/shared-{'ab'[i % 2]}?limit=video=1")
    counted(status)
    code, _, _ = spend(proxy, status, "/shared-a?limit=video=1")
    check(code == 429, f"{policy}: the service's two routes share the counters ({code})")

    # Kong's header_filter runs on every response: a gateway answer and a proxy-cache hit get the
    # headers too (spending nothing), and the hit no X-Kong-Limit
    code, headers, _ = get(proxy, "/down?limit=video=1")
    check(code == 502 and headers.get("x-ratelimit-limit-video-hour") == str(L) and headers.get("x-ratelimit-remaining-video-hour") == str(L),
          f"{policy}: a 502 carries the headers ({code}, {headers.get('x-ratelimit-remaining-video-hour')})")
    code, headers, body = get(proxy, "/terminated?limit=video=1")
    check(code == 403 and b"closed" in body and headers.get("x-ratelimit-limit-video-hour") == str(L)
          and headers.get("x-ratelimit-remaining-video-hour") == str(L) and headers.get("x-ratelimit-remaining-video") == str(L),
          f"{policy}: a later plugin's answer carries the headers, nothing spent ({code}, {headers.get('x-ratelimit-remaining-video-hour')})")
    code, headers, _ = spend(proxy, status, "/cached?limit=video=1")
    check(code == 200 and headers.get("x-cache-status") == "Miss", f"{policy}: a cache miss ({headers.get('x-cache-status')})")
    counted(status)
    code, headers, _ = get(proxy, "/cached?limit=video=1")
    check(code == 200 and headers.get("x-cache-status") == "Hit" and "x-kong-limit" not in headers
          and headers.get("x-ratelimit-remaining-video-hour") == str(L - 1),
          f"{policy}: a cache hit: the headers, no X-Kong-Limit, nothing spent ({headers.get('x-cache-status')}, {headers.get('x-ratelimit-remaining-video-hour')})")

    # over HTTP/2 (h2c, curl): the same headers, and the 429 on a stream
    codes = []
    for _ in range(3):
        out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-D", "-", "--max-time", "10",
                              f"http://127.0.0.1:{proxy}/h2?limit=video=1"], capture_output=True, text=True).stdout
        codes.append(out.split(" ")[1] if out.startswith("HTTP/2 ") else out[:20])
        if codes[-1] == "200":
            SPENT[status] = SPENT.get(status, 0) + 1
        counted(status)
    check(codes == ["200", "200", "429"] and "x-ratelimit-remaining-video-hour: 0" in out.lower(), f"{policy}: over HTTP/2 {codes}")
    check(wait_for(lambda: metric(status, 'argus_ratelimit_rejections_total') == 6, 5),
          f"{policy}: the six 429s counted in argus_ratelimit_rejections_total ({metric(status, 'argus_ratelimit_rejections_total')})")


def shared_redis(work, upstream, redis_port, proxy, status):
    """A second node on the same Redis sees what the first one counted; the keys are Kong's."""
    keys = redis_cli(redis_port, "--scan", "--pattern", "response-ratelimit:*").split()
    check(any(k.endswith(":video:hour") and ":127.0.0.1:" in k for k in keys), f"Kong's Redis keys ({keys[:2]})")
    second, proxy2, status2, ready = start_argus(work, "second", config(upstream, "redis", redis_port, work))
    try:
        if not check(ready, "a second node started"):
            return
        code, headers, _ = get(proxy2, "/counter")
        check(headers.get("x-ratelimit-remaining-video") == str(L - L // 2 - 1),
              f"the second node reads the first's counts ({headers.get('x-ratelimit-remaining-video')})")
        spend(proxy2, status2, "/counter?limit=video=3")
        counted(status2)
        code, headers, _ = get(proxy, "/counter")
        check(headers.get("x-ratelimit-remaining-video") == str(L - L // 2 - 4), f"and the first node the second's ({headers.get('x-ratelimit-remaining-video')})")
    finally:
        finish([second], "/nonexistent", TALLY)


def outage(work, upstream, redis, redis_port, procs):
    """Redis down: fault_tolerant false answers 500; true lets requests through unlimited."""
    conf = config(upstream, "redis", redis_port, work)
    conf["services"][0]["routes"].append({"name": "tolerant", "paths": ["/tolerant"], "plugins": [
        {"name": "response-ratelimiting", "config": {"policy": "redis", "redis": {"host": "127.0.0.1", "port": redis_port, "timeout": 300},
                                                     "limits": {"video": {"hour": 1}}}}]})
    p, proxy, status, ready = start_argus(work, "outage", conf)
    procs.append(p)
    if not check(ready, "outage node started"):
        return
    redis.kill()
    redis.wait()
    code, _, _ = spend(proxy, status, "/one?limit=video=1")
    check(code == 500, f"Redis down, fault_tolerant false: 500 ({code})")
    code, _, _ = spend(proxy, status, "/tolerant?limit=video=1")
    check(code == 200, f"Redis down, fault_tolerant true: served ({code})")
    check(wait_for(lambda: metric(status, 'argus_ratelimit_store_errors_total') >= 2, 10), "store errors counted")


if __name__ == "__main__":
    sys.exit(main())
