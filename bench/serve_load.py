"""Load on `imret serve` and on its Python peer (FastAPI + uvicorn +
torchvision + FAISS: bench/serve_load_peer.py), the same network weights,
the same vectors, the same requests, in one run. Bounded, loopback only.

    /usr/bin/python3 bench/serve_load.py [--imret build/imret] [--seconds 8] [--clients 1,8,32]

Image queries: a torchvision ResNet-18 (random weights, seed 0, as a .pth)
embeds 256 x 256 JPEGs; the database is 20,000 vectors of 512 dimensions.
Embedding queries: 60,000 vectors of 64 dimensions (the demo's size).
Both servers search by cosine. The load generator is imret_http_load
(bench/http_load: C++ clients on keep-alive connections, built into
build/bench/), or, without it, Python threads, which on 2 cores limit the fastest
rates measured (both servers are measured through the same one)."""
import argparse
import http.client
import io
import json
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def make_fixture(imret, work):
    import torch
    import torchvision
    from PIL import Image
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    weights = f"{work}/resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    # A tiny image folder embedded by imret gives a folder whose meta.json records the network.
    for c in ("a", "b"):
        os.makedirs(f"{work}/images/test/{c}", exist_ok=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(f"{work}/images/test/{c}/{i}.jpg")
    subprocess.run([imret, "-q", "embed", "--arch", "resnet18", "--weights", weights, "--data", f"{work}/images",
                    "--split", "test", "-o", f"{work}/db"], check=True)

    def replace_vectors(folder, n, d):
        vectors = rng.normal(size=(n, d)).astype(np.float32)
        np.save(f"{folder}/embeddings.npy", vectors)
        with open(f"{folder}/items.jsonl", "w") as f:
            for i in range(n):
                f.write(json.dumps({"index": i, "source": f"item{i}.jpg", "label": i % 10, "class": f"c{i % 10}"}) + "\n")
        meta_path = f"{folder}/meta.json"
        meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
        meta.update({"count": n, "dimension": d})
        json.dump(meta, open(meta_path, "w"))
    replace_vectors(f"{work}/db", 20000, 512)
    os.makedirs(f"{work}/db64", exist_ok=True)
    replace_vectors(f"{work}/db64", 60000, 64)
    os.makedirs(f"{work}/queries", exist_ok=True)
    for i in range(8):  # smooth colour images, as JPEG
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((256, 256), Image.BILINEAR).save(f"{work}/queries/{i}.jpg", quality=90)


class Server:
    def __init__(self, command, port_from_output=True, port=None):
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if port_from_output:
            line = self.process.stdout.readline()
            self.port = int(re.search(r":(\d+)/", line).group(1))
        else:
            self.port = port
            for _ in range(600):
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    connection.request("GET", "/api/health")
                    if connection.getresponse().status == 200:
                        break
                except OSError:
                    time.sleep(0.1)

    def peak_rss_mb(self):
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def load_native(generator, work, port, path, bodies, content_type, clients, seconds):
    """load() by imret_http_load."""
    files = []
    for i, body in enumerate(bodies):
        files.append(f"{work}/body-{i}")
        with open(files[-1], "wb") as f:
            f.write(body if isinstance(body, bytes) else body.encode())
    out = subprocess.run([generator, str(port), path, content_type, str(clients), str(seconds), *files],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"imret_http_load failed: {out.stderr.strip()} {out.stdout.strip()}")
    r = json.loads(out.stdout)
    return r["requests_per_s"], r["p50_ms"], r["p99_ms"], r["errors"]


def load(port, path, bodies, content_type, clients, seconds):
    """(requests/s, p50 ms, p99 ms, errors) with `clients` threads for `seconds`."""
    latencies, errors = [], [0]
    lock = threading.Lock()
    stop_at = time.time() + seconds

    def client(c):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        own, i = [], c
        while time.time() < stop_at:
            body = bodies[i % len(bodies)]
            i += 1
            start = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers={"Content-Type": content_type})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(response.status)
                own.append(time.perf_counter() - start)
            except Exception:
                with lock:
                    errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    if not latencies:
        sys.exit(f"every request to port {port} failed ({errors[0]})")
    ms = np.array(latencies) * 1000
    return len(latencies) / elapsed, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), errors[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imret", default="build/imret")
    parser.add_argument("--work", default="/tmp/imret-serve-bench")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--load-generator", default=None,
                        help="imret_http_load (default: bench/ beside --imret; 'python' for Python threads)")
    args = parser.parse_args()
    generator = args.load_generator or os.path.join(os.path.dirname(args.imret), "bench", "imret_http_load")
    if generator != "python" and os.path.exists(generator):
        measure = lambda *a: load_native(generator, args.work, *a)  # noqa: E731
        print(f"load generator: {generator}", file=sys.stderr)
    else:
        measure = load
        print("load generator: Python threads", file=sys.stderr)
    clients = [int(c) for c in args.clients.split(",")]
    if not os.path.exists(f"{args.work}/db64/embeddings.npy"):
        make_fixture(args.imret, args.work)
    images = [open(f"{args.work}/queries/{i}.jpg", "rb").read() for i in range(8)]
    rng = np.random.default_rng(1)
    embeddings = [json.dumps({"embedding": rng.normal(size=64).tolist()}).encode() for _ in range(64)]

    rows, memory = [], {}
    for kind, folder, bodies, content_type in [("image", "db", images, "image/jpeg"),
                                               ("embedding", "db64", embeddings, "application/json")]:
        results = {}
        for name in ("imret", "peer"):
            if name == "imret":
                server = Server([args.imret, "serve", f"{args.work}/{folder}", "--port", "0"])
                path = "/api/search?k=10&metric=cosine"
            else:
                server = Server([sys.executable, f"{HERE}/serve_load_peer.py", f"{args.work}/{folder}", "18931",
                                 f"{args.work}/resnet18.pth"],
                                port_from_output=False, port=18931)
                path = "/api/search?k=10"
            measure(server.port, path, bodies, content_type, 1, 1)  # warm up
            for c in clients:
                results[(name, c)] = measure(server.port, path, bodies, content_type, c, args.seconds)
                print(f"  {kind:9} {name:5} {c:2} clients: {results[(name, c)][0]:8.1f} req/s", file=sys.stderr)
            memory[(kind, name)] = server.peak_rss_mb()
            server.stop()
        for c in clients:
            ours, peer = results[("imret", c)], results[("peer", c)]
            rows.append((kind, c, ours, peer))

    print(f"{'queries':10} {'clients':>7} | {'imret req/s':>11} {'p50 ms':>7} {'p99 ms':>7} | "
          f"{'peer req/s':>10} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>6}")
    for kind, c, ours, peer in rows:
        print(f"{kind:10} {c:7} | {ours[0]:11.1f} {ours[1]:7.2f} {ours[2]:7.2f} | {peer[0]:10.1f} {peer[1]:7.2f} "
              f"{peer[2]:7.2f} | {ours[0] / peer[0]:5.2f}x" + (f"  errors {ours[3]}/{peer[3]}" if ours[3] or peer[3] else ""))
    for (kind, name), mb in memory.items():
        print(f"peak memory, {kind} queries, {name}: {mb:.0f} MB")


if __name__ == "__main__":
    main()
