"""The messaging benchmark's client (scripts/bench-messaging runs it): raw HTTP/1.1 over
asyncio (no third-party package), so what it measures is the server, not a client library.

Phases (each prints its figures):
  live      N live streams (Server-Sent Events) held at once: the server's RSS.
  send      M messages/s sent through the API by creators to fans whose streams are open:
            send→receive latency measured at the receiving stream (p50/p95/p99), lost events.
            The streams are held by --procs (2) receiving processes apart from the sender, so
            that one Python event loop's queue is not what is measured.
  mass      one mass message to a creator's F fans, delivered by the worker: time to "sent",
            while one fan's inbox listing is read in a loop (its p50/p99).
  inbox     the inbox listing with the database holding >= 1,000,000 messages: p50/p99 of a
            creator's and of a fan's first page.
"""

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.r = self.w = None

    async def open(self):
        self.r, self.w = await asyncio.open_connection(self.host, self.port)

    async def request(self, method, path, token, body=None):
        if self.w is None:
            await self.open()
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        self.w.write(head.encode() + data)
        await self.w.drain()
        status = int((await self.r.readline()).split()[1])
        length, chunked = 0, False
        while True:
            line = await self.r.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            if k.lower() == "content-length":
                length = int(v)
            elif k.lower() == "transfer-encoding" and "chunked" in v:
                chunked = True
        if chunked:
            out = b""
            while True:
                size = int((await self.r.readline()).strip(), 16)
                if size == 0:
                    await self.r.readline()
                    break
                out += await self.r.readexactly(size)
                await self.r.readline()
            payload = out
        else:
            payload = await self.r.readexactly(length) if length else b""
        return status, payload


async def stream(host, port, token, on_event, ready):
    """Holds one live stream, calling on_event(name, data) per event."""
    r, w = await asyncio.open_connection(host, port)
    w.write(
        (
            f"GET /api/v1/messages/live HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await w.drain()
    status = (await r.readline()).split()[1]
    if status != b"200":
        raise RuntimeError(f"stream answered {status}")
    while (await r.readline()) not in (b"\r\n", b""):
        pass
    buf = b""
    try:
        while True:
            size = int((await r.readline()).strip(), 16)
            if size == 0:
                return
            buf += await r.readexactly(size)
            await r.readline()
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                name, data = "message", []
                for line in block.decode().split("\n"):
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                if name == "hello":
                    ready.set_result(True) if not ready.done() else None
                elif data:
                    on_event(name, "\n".join(data))
    finally:
        w.close()


def receiver(args, fans, pipe):
    """One receiving process: holds the streams of `fans`, answers "ready" once every stream
    said hello, then, when told to stop, the latencies it measured and the texts it got."""

    async def run():
        latencies, received = [], []

        def on_event(name, data):
            if name != "message":
                return
            text = json.loads(data)["message"]["text"]
            if text.startswith("t"):
                # CLOCK_MONOTONIC is one clock for every process of the machine.
                sent_ns = int(text[1:].split()[0])
                latencies.append((time.monotonic_ns() - sent_ns) / 1e6)
                received.append(text)

        loop = asyncio.get_running_loop()
        tasks, readies = [], []
        for i, (token, _conv, _creator) in enumerate(fans):
            ready = loop.create_future()
            readies.append(ready)
            tasks.append(asyncio.create_task(stream(args.host, args.port, token, on_event, ready)))
            if i % 200 == 199:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*readies), timeout=300)
        pipe.send("ready")
        await loop.run_in_executor(None, pipe.recv)  # "stop"
        pipe.send((latencies, received))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())


async def phase_live(args, fans):
    """Opens the streams in `args.procs` receiving processes, apart from the sender (one
    Python process parsing every stream and sending 500 requests/s measures its own event
    loop's queue as much as the server)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    procs = []
    t0 = time.monotonic()
    for k in range(args.procs):
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=receiver, args=(args, fans[k :: args.procs], theirs), daemon=True)
        proc.start()
        procs.append((proc, mine))
    loop = asyncio.get_running_loop()
    for _, pipe in procs:
        if not await loop.run_in_executor(None, pipe.poll, 300):
            raise RuntimeError("the streams did not open within 300 s")
        pipe.recv()
    took = time.monotonic() - t0
    await asyncio.sleep(2)
    rss = rss_mb(args.server_pid)
    print(
        f"live: {len(fans)} streams open in {took:.1f} s ({args.procs} receiving processes); "
        f"server RSS {rss:.0f} MB (target < 300 MB)",
        flush=True,
    )
    return procs, rss


def collect(procs):
    """Stops the receiving processes: every latency measured, every text received."""
    latencies, received = [], set()
    for _, pipe in procs:
        pipe.send("stop")
    for proc, pipe in procs:
        lat, got = pipe.recv()
        latencies += lat
        received.update(got)
        proc.join(timeout=30)
    return latencies, received


async def phase_send(args, fans, creators, procs):
    rate, seconds = args.rate, args.seconds
    total = rate * seconds
    senders = 64
    per = total // senders
    interval = senders / rate
    sent, errors = [], []

    async def sender(k):
        conns = {}
        start = time.monotonic() + k * interval / senders
        for i in range(per):
            at = start + i * interval
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            token, conv, creator = random.choice(fans)
            c = conns.setdefault(creator, Conn(args.host, args.port))
            text = f"t{time.monotonic_ns()} #{k}-{i}"
            try:
                status, body = await c.request(
                    "POST", f"/api/v1/messages/conversations/{conv}/messages", creators[creator], {"text": text}
                )
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                errors.append(str(e))
                conns.pop(creator, None)
                continue
            if status != 201:
                errors.append(f"{status} {body[:200]!r}")
            else:
                sent.append(text)

    t0 = time.monotonic()
    await asyncio.gather(*(sender(k) for k in range(senders)))
    took = time.monotonic() - t0
    await asyncio.sleep(3)
    latencies, received = collect(procs)
    lost = len(set(sent) - received)
    print(
        f"send: {len(sent)} messages in {took:.1f} s = {len(sent) / took:.0f}/s (target 500/s); "
        f"errors {len(errors)}{' e.g. ' + errors[0] if errors else ''}; not received {lost}",
        flush=True,
    )
    print(
        f"send→receive: p50 {pct(latencies, 50):.1f} ms, p95 {pct(latencies, 95):.1f} ms, "
        f"p99 {pct(latencies, 99):.1f} ms, max {max(latencies) if latencies else float('nan'):.1f} ms (target p99 < 100 ms)",
        flush=True,
    )
    return len(sent) / took, pct(latencies, 99), lost, len(errors)


async def inbox_loop(args, token, stop, out):
    c = Conn(args.host, args.port)
    while not stop.is_set():
        t = time.monotonic_ns()
        status, _ = await c.request("GET", "/api/v1/messages/conversations?limit=30", token)
        out.append((time.monotonic_ns() - t) / 1e6)
        if status != 200:
            raise RuntimeError(f"inbox answered {status}")
        await asyncio.sleep(0.005)


def psql(args, sql):
    return subprocess.run(["psql", "-qAt", args.db, "-c", sql], check=True, capture_output=True, text=True).stdout.strip()


async def phase_mass(args):
    token = args.mass_creator_token
    reader = args.mass_reader_token
    c = Conn(args.host, args.port)
    stop = asyncio.Event()
    lat = []
    loop_task = asyncio.create_task(inbox_loop(args, reader, stop, lat))
    await asyncio.sleep(1)
    baseline = list(lat)
    t0 = time.monotonic()
    status, body = await c.request("POST", "/api/v1/messages/mass", token, {"segment": "active", "text": "New set out now"})
    if status != 201:
        raise RuntimeError(f"mass message answered {status}: {body[:300]!r}")
    mass = json.loads(body)["id"]
    during_from = len(lat)
    while True:
        await asyncio.sleep(0.25)
        state = psql(args, f"select status || ' ' || sent_count from mass_messages where id = '{mass}'")
        if state.startswith("sent"):
            break
        if time.monotonic() - t0 > 600:
            raise RuntimeError(f"mass message not delivered after 600 s: {state}")
    took = time.monotonic() - t0
    during = lat[during_from:]
    stop.set()
    await loop_task
    sent = int(state.split()[1])
    print(
        f"mass: {sent} fans reached in {took:.1f} s = {sent / took:.0f}/s (target 100,000 in < 60 s); "
        f"inbox during it: {len(during)} reads, p50 {pct(during, 50):.1f} ms, p99 {pct(during, 99):.1f} ms "
        f"(target p99 < 20 ms; before it p99 {pct(baseline, 99):.1f} ms)",
        flush=True,
    )
    return sent, took, pct(during, 99)


async def phase_inbox(args):
    n = int(psql(args, "select count(*) from messages"))
    out = {}
    for label, token in (("creator (100 conversations)", args.inbox_creator_token), ("fan", args.inbox_fan_token)):
        c = Conn(args.host, args.port)
        lat = []
        for _ in range(200):  # warm-up
            await c.request("GET", "/api/v1/messages/conversations?limit=30", token)
        for _ in range(args.inbox_reads):
            t = time.monotonic_ns()
            status, _ = await c.request("GET", "/api/v1/messages/conversations?limit=30", token)
            lat.append((time.monotonic_ns() - t) / 1e6)
            if status != 200:
                raise RuntimeError(f"inbox answered {status}")
        out[label] = lat
        print(
            f"inbox ({label}) with {n:,} messages in the database: {len(lat)} reads, p50 {pct(lat, 50):.2f} ms, "
            f"p99 {pct(lat, 99):.2f} ms (target p99 < 10 ms)",
            flush=True,
        )
    return n, out


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--fans", required=True, help="file: token conversation creator per line")
    p.add_argument("--creators", required=True, help="file: creator-id token per line")
    p.add_argument("--rate", type=int, default=500)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--inbox-reads", type=int, default=2000)
    p.add_argument("--procs", type=int, default=2, help="receiving processes holding the streams")
    p.add_argument("--mass-creator-token", required=True)
    p.add_argument("--mass-reader-token", required=True)
    p.add_argument("--inbox-creator-token", required=True)
    p.add_argument("--inbox-fan-token", required=True)
    p.add_argument("--phase", action="append")
    args = p.parse_args()
    fans = [tuple(l.split()) for l in open(args.fans) if l.strip()]
    creators = dict(l.split() for l in open(args.creators) if l.strip())
    phases = args.phase or ["live", "send", "mass", "inbox"]
    if "live" in phases:
        procs, _ = await phase_live(args, fans)
        if "send" in phases:
            await phase_send(args, fans, creators, procs)
        else:
            collect(procs)
    if "mass" in phases:
        await phase_mass(args)
    if "inbox" in phases:
        await phase_inbox(args)


if __name__ == "__main__":
    asyncio.run(main())
