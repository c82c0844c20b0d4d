#!/usr/bin/python3
"""A WebSocket peer from Python's `websockets` (Debian's python3-websockets)
for tests/ws.rs: a server or a client that the Rust tests drive.

  ws_peer.py sink                 serve; print each connection's sha256 and
                                  byte count once the client closes
  ws_peer.py source BYTES SEED    serve; send BYTES of seeded random bytes in
                                  fragmented binary messages, a ping between
                                  them (the last one's pong awaited), then
                                  close with 4000 "done"
  ws_peer.py echo                 serve; send each message back as it came
  ws_peer.py client URL BYTES     send BYTES seeded random bytes (seed 7) as
                                  fragmented binary messages with pings
                                  between (the last one's pong awaited),
                                  while reading what comes back;
                                  close with 1000 after BYTES came back and
                                  print their sha256, the byte count and
                                  the server's close code
A server prints its port on the first line.
"""

import asyncio
import hashlib
import random
import sys

import websockets

CHUNK = 256 * 1024


def data(n, seed):
    rng = random.Random(seed)
    return rng.randbytes(n)


async def sink(ws):
    h, n = hashlib.sha256(), 0
    try:
        async for m in ws:
            b = m.encode() if isinstance(m, str) else m
            h.update(b)
            n += len(b)
    finally:
        print(h.hexdigest(), n, ws.close_code, flush=True)


def source(total, seed):
    async def handler(ws):
        body = data(total, seed)
        for i in range(0, total, CHUNK):
            part = body[i:i + CHUNK]
            # One message in four fragments (websockets fragments an
            # iterable), and a ping between messages.
            q = max(1, len(part) // 4)
            await ws.send([part[j:j + q] for j in range(0, len(part), q)])
            pong = await ws.ping(b"during %d" % i)
        # The last ping's pong must come back (sockcat answers each).
        await asyncio.wait_for(pong, 20)
        await ws.close(4000, "done")
    return handler


async def echo(ws):
    async for m in ws:
        await ws.send(m)


async def serve(handler):
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


async def client(url, total):
    body = data(total, 7)
    async with websockets.connect(url, max_size=None) as ws:
        async def send():
            for i in range(0, total, CHUNK):
                part = body[i:i + CHUNK]
                q = max(1, len(part) // 3)
                await ws.send([part[j:j + q] for j in range(0, len(part), q)])
                pong = await ws.ping(b"during %d" % i)
            await asyncio.wait_for(pong, 20)
        sender = asyncio.create_task(send())
        h, n = hashlib.sha256(), 0
        while n < total:
            m = await ws.recv()
            b = m.encode() if isinstance(m, str) else m
            h.update(b)
            n += len(b)
        await sender
        await ws.close(1000, "bye")
    print(h.hexdigest(), n, ws.close_code, flush=True)


def main():
    mode = sys.argv[1]
    if mode == "sink":
        asyncio.run(serve(sink))
    elif mode == "source":
        asyncio.run(serve(source(int(sys.argv[2]), int(sys.argv[3]))))
    elif mode == "echo":
        asyncio.run(serve(echo))
    elif mode == "client":
        asyncio.run(client(sys.argv[2], int(sys.argv[3])))


main()
