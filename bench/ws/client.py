"""The WebSocket benchmark's client: CONNS connections to URL, each sending a SIZE-byte message and
waiting for its echo, for SECONDS; prints the messages echoed (a round trip each)."""
import asyncio
import sys
import time

import websockets


async def run(url, conns, seconds, size):
    payload = b"x" * size
    count = 0
    deadline = time.monotonic() + seconds

    async def one():
        nonlocal count
        async with websockets.connect(url, max_size=None, compression=None) as ws:
            while time.monotonic() < deadline:
                await ws.send(payload)
                await ws.recv()
                count += 1
    await asyncio.gather(*(one() for _ in range(conns)))
    print(count)

asyncio.run(run(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
