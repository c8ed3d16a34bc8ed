"""The WebSocket benchmark's backend: echoes every message (Debian's python3-websockets)."""
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


async def main(port):
    async with websockets.serve(echo, "127.0.0.1", port, max_size=None, compression=None):
        await asyncio.Future()

asyncio.run(main(int(sys.argv[1])))
