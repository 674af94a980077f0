"""The server under load: throughput and latency of `fastlearn serve` with and without batching.

A Lite0 bundle at 64 px (10 digit classes, weights as exported after building, since accuracy
does not change the cost) is served twice, by `fastlearn serve --max-batch 16` (requests that
arrive together share a forward pass) and `--max-batch 1` (one pass per request), each in its
own process on 127.0.0.1. This process is the load: `c` client threads, each posting real
digit PNGs one after another on a kept-alive connection for `--seconds`, at c = 1, 8 and 32,
the two servers alternating at each c. Prints requests/s, p50 and p95 latency, the speed-up
over one client, and batched / unbatched.

Run: python bench/serve_load.py [--seconds 10] [--clients 1,8,32]
"""
from __future__ import annotations

import argparse
import http.client
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_bundle(work: Path) -> tuple[Path, list[bytes]]:
    from fastlearn import ImageData, Learner
    from fastlearn.datasets import mnist_folders
    digits = mnist_folders(work / "digits", n=300)
    data = ImageData.from_folder(digits, size=64, bs=32, cache_dir=work / "cache", progress=False)
    learn = Learner.pretrained("tf_efficientnet_lite0", data, progress=False)
    bundle = learn.export(work / "model")
    images = [p.read_bytes() for p in data.paths_of("valid")[:64]]
    return bundle, images


def start_server(bundle: Path, max_batch: int) -> tuple[subprocess.Popen, int]:
    exe = Path(sys.executable).with_name("fastlearn")
    proc = subprocess.Popen([str(exe), "serve", str(bundle), "--port", "0", "--max-batch", str(max_batch)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    port = int(line.split(" on ", 1)[1].split()[0].rstrip("/").rsplit(":", 1)[1])
    return proc, port


def load(port: int, images: list[bytes], clients: int, seconds: float) -> tuple[float, float, float]:
    """(requests per second, p50 s, p95 s) of `clients` threads posting for `seconds`."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, n = [], i
        while time.perf_counter() < stop:
            body = images[n % len(images)]
            n += clients
            t0 = time.perf_counter()
            conn.request("POST", "/predict", body=body, headers={"Content-Type": "image/png"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"server answered {r.status}")
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=20)
    return len(latencies) / wall, statistics.median(latencies), q[18]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--clients", default="1,8,32")
    a = p.parse_args(argv)
    counts = [int(c) for c in a.clients.split(",")]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads default")
    with tempfile.TemporaryDirectory() as d:
        bundle, images = make_bundle(Path(d))
        servers = {name: start_server(bundle, mb) for name, mb in (("batched", 16), ("unbatched", 1))}
        try:
            for name, (_, port) in servers.items():  # warm up both: first passes build kernels and plans
                load(port, images, 4, 2.0)
            results: dict[str, dict[int, tuple]] = {name: {} for name in servers}
            for c in counts:
                for name, (_, port) in servers.items():
                    results[name][c] = load(port, images, c, a.seconds)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(10)
    print(f"{'server':10s} {'clients':>7s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'vs 1 client':>12s}")
    for name, by_c in results.items():
        base = by_c[counts[0]][0]
        for c, (rps, p50, p95) in by_c.items():
            print(f"{name:10s} {c:7d} {rps:8.1f} {p50 * 1e3:8.1f} {p95 * 1e3:8.1f} {rps / base:11.2f}x")
    for c in counts:
        print(f"batched / unbatched at {c} clients: {results['batched'][c][0] / results['unbatched'][c][0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
