#!/usr/bin/env python3
"""Backend for bench/stream-rss.sh: GET /download/<bytes> streams zeros (Content-Length),
PUT or POST anything reads the body (Content-Length or chunked) and answers with its size."""
import http.server
import sys

CHUNK = b"\0" * (1 << 20)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        size = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/download/") else 0
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        left = size
        while left > 0:
            n = min(left, len(CHUNK))
            self.wfile.write(CHUNK[:n])
            left -= n

    def _read_body(self):
        total = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                left = size
                while left:
                    left -= len(self.rfile.read(min(left, 1 << 20)))
                self.rfile.readline()
                total += size
        left = int(self.headers.get("Content-Length", "0"))
        while left:
            got = len(self.rfile.read(min(left, 1 << 20)))
            if not got:
                break
            left -= got
            total += got
        return total

    def do_PUT(self):
        body = str(self._read_body()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
