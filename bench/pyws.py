"""Python's `websockets` (Debian's python3-websockets) as bench/run's
WebSocket peer.

usage: pyws.py serve PORT          take one connection, read every message
                                   to the client's Close, then exit
       pyws.py send URL binary     send stdin as 256 KiB binary messages,
                                   then close
       pyws.py send URL text       send each line of stdin (without its
                                   newline) as one text message, then close
"""
import asyncio
import sys

import websockets

CHUNK = 256 * 1024


async def serve(port):
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        async for _ in ws:
            pass
        if not done.done():
            done.set_result(None)

    async with websockets.serve(handler, "127.0.0.1", port, max_size=None):
        await done


async def send(url, mode):
    data = sys.stdin.buffer
    async with websockets.connect(url, max_size=None) as ws:
        if mode == "binary":
            while True:
                chunk = data.read(CHUNK)
                if not chunk:
                    break
                await ws.send(chunk)
        else:
            for line in data:
                await ws.send(line.rstrip(b"\n").decode())


if sys.argv[1] == "serve":
    asyncio.run(serve(int(sys.argv[2])))
else:
    asyncio.run(send(sys.argv[2], sys.argv[3]))
