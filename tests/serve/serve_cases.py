"""The query service (imret serve), one case per CTest test (serve.<case>):
a real server on a loopback port, talked to over HTTP.
    /usr/bin/python3 serve_cases.py <case>"""
import base64
import gzip
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FIXTURE, IMRET, Server, check, fail, fashion_test_images, make_fixture, multipart, png, run  # noqa: E402

INDEX = f"{FIXTURE}/index"
QUERIES = [f"{FIXTURE}/queries/q{i}.png" for i in range(4)]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def cli_results(*args):
    """`imret index search INDEX ... --json`: per query, [(id, score)]."""
    answer = json.loads(run("index", "search", INDEX, *args, "--json"))
    return [[(r["id"], r.get("similarity", r.get("distance"))) for r in q["results"]] for q in answer]


def same_hits(served, expected, what):
    got = [(r["id"], r["score"]) for r in served["results"]]
    check([i for i, _ in got] == [i for i, _ in expected], f"{what}: ids {got} differ from imret's {expected}")
    check(np.allclose([s for _, s in got], [s for _, s in expected], atol=1e-5), f"{what}: scores differ: {got} {expected}")


def case_fixture():
    make_fixture()


def case_parity():
    """Every query form gives what `imret index search` gives for the same query."""
    expected = cli_results("--image", *QUERIES, "-k", "10")
    with Server(INDEX) as server:
        info = server.json("GET", "/api/info")
        check(info["vectors"] == 10000 and info["dimension"] == 64 and info["metric"] == "cosine",
              f"/api/info: {info}")
        check(info["image_queries"] is True and info["network"]["spec"]["arch"] == "convnet", f"/api/info: {info}")
        check(len(info["classes"]) == 10 and info["classes"][0] == "T-shirt/top", f"/api/info classes: {info}")
        # A raw image body.
        for q, path in enumerate(QUERIES):
            answer = server.search(read(path), "image/png")
            same_hits(answer["queries"][0], expected[q], f"raw body {path}")
            t = answer["timings_ms"]
            check(t["total"] >= t["search"] >= 0 and t["decode"] >= 0 and t["embed"] > 0, f"timings: {t}")
        # Several files in one multipart upload, and base64 images in JSON.
        body, content_type = multipart([("file", os.path.basename(p), read(p)) for p in QUERIES])
        answer = server.search(body, content_type)
        check(len(answer["queries"]) == 4, f"multipart: {len(answer['queries'])} answers for 4 files")
        for q in range(4):
            same_hits(answer["queries"][q], expected[q], f"multipart file {q}")
        images = [base64.b64encode(read(p)).decode() for p in QUERIES[:2]]
        answer = server.search(json.dumps({"images": images}), "application/json")
        same_hits(answer["queries"][1], expected[1], "base64 image")
        # An embedding: a database row, as `imret search` ranks it.
        db = np.load(f"{FIXTURE}/db/embeddings.npy")
        answer = server.search(json.dumps({"embedding": db[17].tolist()}), "application/json", "k=5")
        by_cli = json.loads(run("search", "-d", f"{FIXTURE}/db", "-q", f"{FIXTURE}/db", "--first", "18",
                                "--index", "exact:cosine", "-k", "5", "--json"))[17]
        same_hits(answer["queries"][0], [(r["id"], r["similarity"]) for r in by_cli["results"]], "embedding row 17")
        # An item: its own vector; it comes first, and + marks its class.
        answer = server.search(json.dumps({"id": 17}), "application/json", "k=5")
        hits = answer["queries"][0]["results"]
        check(hits[0]["id"] == 17 and abs(hits[0]["score"] - 1) < 1e-5, f"id query: {hits[0]}")
        check(all(h["same_class"] == (h["label"] == hits[0]["label"]) for h in hits), f"same_class: {hits}")
        # Items and their images: the IDX row itself, as PNG.
        item = server.json("GET", "/api/items/17")
        check(item["id"] == 17 and item["path"].endswith("t10k-images-idx3-ubyte.gz#17"), f"item 17: {item}")
        status, headers, data = server.request("GET", "/api/items/17/image")
        check(status == 200 and headers["Content-Type"] == "image/png", f"item image: {status} {headers}")
        pixels = decode_grey_png(data)
        check(pixels == fashion_test_images(17, 1)[0], "item 17's image differs from its IDX row")
        # The metrics count what happened.
        status, headers, text = server.request("GET", "/metrics")
        text = text.decode()
        check(status == 200 and headers["Content-Type"].startswith("text/plain"), f"/metrics: {status}")
        check('imret_http_requests_total{endpoint="/api/search",status="200"} 8' in text, text[:2000])
        check('imret_http_requests_total{endpoint="/api/items/{id}/image",status="200"} 1' in text, text[:2000])
        check("imret_embed_batch_size_count" in text and "imret_collection_vectors 10000" in text, text[:2000])
        status, headers, page = server.request("GET", "/")
        check(status == 200 and b"<title>imret" in page and "Content-Security-Policy" in headers, "the page")


def case_rerank():
    """Re-ranking in the service: the service's plan, a request's own, rerank=none, the same hits as
    `imret index search --rerank`, and clear refusals (a bad spec, diffusion without its graph, a
    graph with writes on, DBA on vectors that did not go through it)."""
    spec = "kreciprocal:k1=10,k2=3,lambda=0.3"
    expected = cli_results("--image", *QUERIES, "-k", "10", "--rerank", spec, "--rerank-depth", "40")
    plain = cli_results("--image", *QUERIES, "-k", "10")
    check(any([i for i, _ in e] != [i for i, _ in p] for e, p in zip(expected, plain)), "k-reciprocal changed nothing")
    with Server(INDEX, "--rerank", spec, "--rerank-depth", "40") as server:
        info = server.json("GET", "/api/info")
        check(info["rerank"] == {"spec": spec, "depth": 40}, f"/api/info rerank: {info['rerank']}")
        for q, path in enumerate(QUERIES):
            answer = server.search(read(path), "image/png")
            check(answer["rerank"] == spec, f"answer names its re-ranking: {answer.get('rerank')}")
            same_hits(answer["queries"][0], expected[q], f"re-ranked {path}")
            check(all("rerank_score" in h for h in answer["queries"][0]["results"]), "rerank_score in every hit")
            scores = [h["rerank_score"] for h in answer["queries"][0]["results"]]
            check(scores == sorted(scores, reverse=True), f"rerank scores in order: {scores}")
        # rerank=none: the plain search; a request's own plan: as the command line gives it.
        answer = server.search(read(QUERIES[0]), "image/png", "k=10&rerank=none")
        same_hits(answer["queries"][0], plain[0], "rerank=none")
        check("rerank" not in answer, "rerank=none names no re-ranking")
        aqe = cli_results("--image", QUERIES[1], "-k", "10", "--rerank", "aqe:k=3")
        answer = server.search(read(QUERIES[1]), "image/png", "k=10&rerank=aqe:k%3D3")
        same_hits(answer["queries"][0], aqe[0], "rerank=aqe:k=3")
        # A chain: '+' in a query string (decoded to a space) chains as on the command line.
        chain = cli_results("--image", QUERIES[1], "-k", "10", "--rerank", "aqe:k=3+kreciprocal:k1=5", "--rerank-depth", "40")
        answer = server.search(read(QUERIES[1]), "image/png", "k=10&rerank=aqe:k%3D3+kreciprocal:k1%3D5")
        check(answer["rerank"] == "aqe:k=3,alpha=3+kreciprocal:k1=5,k2=6,lambda=0.3", f"chain: {answer['rerank']}")
        same_hits(answer["queries"][0], chain[0], "rerank=aqe+kreciprocal")
        # Refusals, each naming the setting.
        for query, words in (("rerank=qe", "unknown re-ranking"), ("rerank=diffusion", "graph"),
                             ("rerank=dba", "acts when an index is built"), ("rerank_depth=0", "rerank_depth"),
                             ("rerank=aqe:k%3Dx", "aqe:k=x")):
            answer = server.search(read(QUERIES[0]), "image/png", "k=10&" + query, expect=400)
            check(words in answer["error"], f"{query}: {answer}")
        # A huge depth is clamped, not obeyed; a request's own plan is bounded.
        answer = server.search(read(QUERIES[0]), "image/png", "k=5&rerank_depth=100000000")
        check(len(answer["queries"][0]["results"]) == 5, "clamped depth")
        for query in ("rerank=aqe:k%3D5000", "rerank=kreciprocal:k2%3D5000", "rerank=aqe+aqe+aqe+aqe+aqe"):
            answer = server.search(read(QUERIES[0]), "image/png", "k=5&" + query, expect=400)
            check("a request's own plan takes at most" in answer["error"], f"{query}: {answer}")
    # A graph is made for the collection's default metric: another metric is refused, not served wrong.
    with Server(f"{FIXTURE}/db", "--rerank", "diffusion:k=10", "--rerank-depth", "30") as server:
        answer = server.search(json.dumps({"id": 3}), "application/json", "k=5")
        check(answer["rerank"].startswith("diffusion:k=10"), f"diffusion: {answer.get('rerank')}")
        other = "euclidean" if server.json("GET", "/api/info")["metric"] == "cosine" else "cosine"
        answer = server.search(json.dumps({"id": 3}), "application/json", "k=5&metric=" + other, expect=400)
        check("its graph is made for the" in answer["error"], f"other metric: {answer}")
        answer = server.search(json.dumps({"id": 3}), "application/json", "k=5&rerank=none&metric=" + other)
        check("rerank" not in answer, "rerank=none with another metric")
    for options, words in ((["--rerank", "diffusion", "--allow-writes"], "writes would leave"),
                           (["--rerank", "dba:k=3"], "acts when an index is built"),
                           (["--rerank", "nope"], "unknown re-ranking")):
        folder = writable_copy("rerank-refusal") if "--allow-writes" in options else INDEX
        done = subprocess.run([IMRET, "serve", folder, "--port", "0", *options], capture_output=True, text=True,
                              timeout=60)
        check(done.returncode != 0 and words in done.stderr and "--rerank" in done.stderr,
              f"serve {options}: {done.returncode} {done.stderr!r}")


def decode_grey_png(data):
    """The pixels of a PNG from imret's own writer (8-bit grey, filter 0)."""
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            check(depth == 8 and colour == 0, "not 8-bit grey")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    return b"".join(raw[y * (width + 1) + 1:(y + 1) * (width + 1)] for y in range(height))


def case_token():
    """Loopback by default; another address needs a token; with one, every
    endpoint but /api/health needs it."""
    env = dict(os.environ)
    env.pop("IMRET_TOKEN", None)
    refused = subprocess.run([IMRET, "serve", INDEX, "--host", "0.0.0.0", "--port", "0"], capture_output=True,
                             text=True, env=env, timeout=120)
    check(refused.returncode == 2, f"--host 0.0.0.0 without a token started (exit {refused.returncode})")
    check(refused.stderr.strip().count("\n") == 0 and "--host 0.0.0.0" in refused.stderr and "--token" in refused.stderr,
          f"refusal: {refused.stderr!r}")
    env["IMRET_TOKEN"] = "s3cret-token"
    with Server(INDEX, env=env) as server:
        check(server.request("GET", "/api/health")[0] == 200, "/api/health needs no token")
        for path in ["/api/info", "/api/items/1", "/api/items/1/image", "/metrics", "/"]:
            status, headers, body = server.request("GET", path)
            check(status == 401 and headers.get("WWW-Authenticate") == "Bearer", f"{path} without a token: {status}")
            check("needs a token" in json.loads(body)["error"], f"{path}: {body!r}")
            status, _, _ = server.request("GET", path, headers={"Authorization": "Bearer s3cret-tokeN"})
            check(status == 401, f"{path} with a wrong token: {status}")
            status, _, _ = server.request("GET", path, headers={"Authorization": "Bearer s3cret-token"})
            check(status == 200, f"{path} with the token: {status}")
        server.search(json.dumps({"id": 1}), "application/json", expect=401)
        server.search(json.dumps({"id": 1}), "application/json", headers={"Authorization": "Bearer s3cret-token"})
        check(server.request("GET", "/?token=s3cret-token")[0] == 200, "the page with ?token=")
        check(server.request("GET", "/api/info?token=s3cret-token")[0] == 401, "?token= opens only the page")
    # A token makes another address acceptable.
    with Server(INDEX, "--host", "0.0.0.0", env=env) as server:
        check(server.request("GET", "/api/health")[0] == 200, "serving on 0.0.0.0 with a token")


def case_limits():
    """Bodies, images, ids, embeddings and k over their limits: 413, 400, 404; the
    server stays up and answers well-formed JSON."""
    with Server(INDEX, "--max-upload-mb", "1", "--max-megapixels", "1") as server:
        big = b"\xff\xd8" + b"\0" * (2 << 20)
        status, _, body = server.request("POST", "/api/search", big, {"Content-Type": "image/jpeg"})
        check(status == 413 and "larger than" in json.loads(body)["error"], f"2 MB upload: {status} {body[:200]!r}")
        # A decompression bomb: a PNG whose header claims 20000 x 20000 pixels.
        header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
        bomb = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header +
                struct.pack(">I", zlib.crc32(b"IHDR" + header)) + b"\0" * 64)
        answer = server.search(bomb, "image/png", expect=413)
        check("20000 x 20000" in answer["error"], f"bomb: {answer}")
        answer = server.search(b"this is not an image", "image/png", expect=400)
        check("decode" in answer["error"] or "not an image" in answer["error"], f"not an image: {answer}")
        truncated = read(QUERIES[0])[:60]
        server.search(truncated, "image/png", expect=400)
        answer = server.search(json.dumps({"id": 10000}), "application/json", expect=404)
        check(answer["error"] == "no item 10000 (ids 0..9999)", f"wrong id: {answer}")
        answer = server.search(json.dumps({"embedding": [0.5] * 63}), "application/json", expect=400)
        check(answer["error"] == "embedding: 63 numbers, the collection's vectors have 64", f"dimension: {answer}")
        server.search("{\"embedding\": [1,", "application/json", expect=400)
        server.search(json.dumps({"id": 1}), "application/json", "k=0", expect=400)
        server.search(json.dumps({"id": 1}), "application/json", "k=-5", expect=400)
        answer = server.search(json.dumps({"id": 1}), "application/json", "k=1000000000")
        check(answer["k"] == 1000 and len(answer["queries"][0]["results"]) == 1000, f"huge k: {answer['k']}")
        server.search(json.dumps({"id": 1}), "application/json", "nprobe=4", expect=400)  # exact: no such parameter
        server.search(b"hello", "text/plain", expect=400)
        check(server.request("GET", "/api/health")[0] == 200, "the server died")


def case_paths():
    """No request names a file: traversal tricks get 404 and no file's bytes."""
    with Server(INDEX) as server:
        secret = read("/etc/passwd")
        for path in ["/api/items/../../../../etc/passwd", "/api/items/%2e%2e%2f%2e%2e%2fetc%2fpasswd/image",
                     "/api/items/..%2F..%2Fetc%2Fpasswd", "/api/items/-1/image", "/api/items/1e3/image",
                     "/api/items/99999999999999999999999/image", "/api/items/10000/image", "//etc/passwd",
                     "/etc/passwd", "/api/items/%00/image", "/api/items/1/image/../../../etc/passwd",
                     "/api/items/1%2F..%2F..%2Fetc%2Fpasswd", "/api/items/1/image%00.txt"]:
            status, headers, body = server.request("GET", path)
            check(status in (400, 404), f"{path}: status {status}")
            check(secret[:64] not in body, f"{path}: served /etc/passwd")
            if body:
                json.loads(body)  # a well-formed JSON error
        check(server.request("GET", "/api/items/3/image")[0] == 200, "a real item's image")


def case_overload():
    """A bounded queue: past it, 503 with Retry-After, and no request is lost."""
    with Server(INDEX, "--max-batch", "1", "--max-queued", "1", "--batch-wait-ms", "300", "--threads", "24") as server:
        image = read(QUERIES[0])
        statuses, retry = [], []
        def ask():
            status, headers, body = server.request("POST", "/api/search", image, {"Content-Type": "image/png"})
            statuses.append(status)
            if status == 503:
                retry.append(headers.get("Retry-After"))
                check("try again" in json.loads(body)["error"], body)
        threads = [threading.Thread(target=ask) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(len(statuses) == 16 and set(statuses) <= {200, 503}, f"statuses: {statuses}")
        check(statuses.count(503) > 0 and statuses.count(200) > 0, f"no request was refused: {statuses}")
        check(all(r == "1" for r in retry), f"Retry-After: {retry}")
        check(server.request("POST", "/api/search", image, {"Content-Type": "image/png"})[0] == 200, "after the burst")


def case_precision():
    """--precision bf16: image queries embedded in bfloat16 rank as in float32
    (near-equal scores); fp16 and tf32 are refused on the CPU in one line."""
    expected = cli_results("--image", *QUERIES[:2], "-k", "10")
    with Server(INDEX, "--precision", "bf16") as server:
        for q, path in enumerate(QUERIES[:2]):
            hits = server.search(read(path), "image/png")["queries"][0]["results"]
            ids = [h["id"] for h in hits]
            expected_ids = [i for i, _ in expected[q]]
            check(len(set(ids[:5]) & set(expected_ids[:5])) >= 4, f"bf16 top 5 {ids[:5]} vs fp32 {expected_ids[:5]}")
            score = {i: s for i, s in expected[q]}
            for h in hits:
                if h["id"] in score:
                    check(abs(h["score"] - score[h["id"]]) < 2e-2, f"bf16 score {h} vs fp32 {score[h['id']]}")
    for precision in ("fp16", "tf32"):
        refused = subprocess.run([IMRET, "serve", INDEX, "--port", "0", "--precision", precision],
                                 capture_output=True, text=True, timeout=120)
        check(refused.returncode != 0 and refused.stderr.count("\n") == 1, f"--precision {precision}: "
              f"{refused.returncode} {refused.stderr!r}")
        check(f"--precision {precision} on --device cpu" in refused.stderr, refused.stderr)


def case_port():
    """A port in use: a second server refuses to start, naming the address,
    instead of sharing the port (SO_REUSEPORT) and half its requests."""
    with Server(INDEX) as server:
        second = subprocess.run([IMRET, "serve", INDEX, "--port", str(server.port)], capture_output=True, text=True,
                                timeout=120)
        check(second.returncode == 1 and second.stderr.count("\n") == 1, f"second server: {second.returncode} "
              f"{second.stdout!r} {second.stderr!r}")
        check(f"127.0.0.1:{server.port}: cannot listen there" in second.stderr, second.stderr)
        check(server.request("GET", "/api/health")[0] == 200, "the first server after the second's attempt")


def case_sigterm():
    """SIGTERM: requests in flight are answered, then the process exits 0."""
    server = Server(INDEX, "--batch-wait-ms", "1500")
    image = read(QUERIES[1])
    statuses = []
    def ask():
        statuses.append(server.request("POST", "/api/search", image, {"Content-Type": "image/png"})[0])
    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the requests wait in the batcher
    start = time.time()
    server.process.send_signal(signal.SIGTERM)
    for t in threads:
        t.join()
    code = server.process.wait(timeout=20)
    check(statuses == [200] * 4, f"requests in flight at SIGTERM: {statuses}")
    check(code == 0, f"exit status {code} after SIGTERM: {server.process.stderr.read()}")
    check(time.time() - start < 10, "took more than 10 s to stop")
    check("stopped" in server.process.stdout.read(), "no 'stopped' line")


def writable_copy(name, source=INDEX):
    """A copy of an index folder for a case that writes (and its uploads gone)."""
    target = os.path.join(FIXTURE, "scratch", name)
    for folder in (target, target + "-uploads"):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, target)
    return target


def form(fields, files):
    """multipart/form-data of text fields {name: value} and files [(field, name, bytes)]."""
    boundary = "imret-test-form-91c2"
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
             for k, v in fields.items()]
    for field, name, data in files:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
                     f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def case_writes():
    """--allow-writes: items added (an upload, a raw image, an embedding) and
    removed are seen by the next search, kept on disk for the next server and
    for `imret index search`; off by default; 409 where the index cannot."""
    folder = writable_copy("writes")
    image = read(QUERIES[0])
    with Server(folder) as server:
        answer = server.json("POST", "/api/items", image, {"Content-Type": "image/png"}, expect=403)
        check("--allow-writes" in answer["error"], f"writes off: {answer}")
        server.json("DELETE", "/api/items/3", expect=403)
    with Server(folder, "--allow-writes") as server:
        check("writes are on" in server.process.stdout.readline(), "no 'writes are on' line")
        body, content_type = form({"class": "Bag"}, [("file", "mine.png", image)])
        added = server.json("POST", "/api/items", body, {"Content-Type": content_type}, expect=201)
        item = added["added"][0]
        check(item["id"] == 10000 and item["label"] == 8 and item["class"] == "Bag" and added["vectors"] == 10001,
              f"added: {added}")
        check(item["path"].startswith(os.path.abspath(folder) + "-uploads/") and item["path"].endswith(".png"),
              f"kept where: {item['path']}")
        hits = server.search(image, "image/png", "k=3")["queries"][0]["results"]
        check(hits[0]["id"] == 10000 and abs(hits[0]["score"] - 1) < 1e-5, f"the added image is not found: {hits}")
        status, headers, data = server.request("GET", "/api/items/10000/image")
        check(status == 200 and data == image and headers["Content-Type"] == "image/png", "the added item's image")
        check(headers.get("Cache-Control") == "no-cache", f"images of a changing collection: {headers}")
        raw = server.json("POST", "/api/items?label=2", read(QUERIES[1]), {"Content-Type": "image/png"}, expect=201)
        check(raw["added"][0]["id"] == 10001 and raw["added"][0]["class"] == "Pullover", f"raw add: {raw}")
        db = np.load(f"{FIXTURE}/db/embeddings.npy")
        vector = (db[3] + db[4]).tolist()
        by_vector = server.json("POST", "/api/items", json.dumps({"embedding": vector}),
                                {"Content-Type": "application/json"}, expect=201)
        check(by_vector["added"][0]["id"] == 10002 and by_vector["added"][0]["label"] == -1, f"{by_vector}")
        for bad_body, bad_type, why in [(json.dumps({"embedding": [1.0] * 3}), "application/json", "3 numbers"),
                                        (json.dumps({"embedding": vector, "class": "Zebra"}), "application/json",
                                         "not one of"),
                                        (b"not an image", "image/png", "")]:
            answer = server.json("POST", "/api/items", bad_body, {"Content-Type": bad_type}, expect=400)
            check(why in answer["error"], f"{why}: {answer}")
        before = server.json("GET", "/api/items/6")
        removed = server.json("DELETE", "/api/items/5")
        check(removed == {"removed": 5, "vectors": 10002, "timings_ms": removed["timings_ms"]}, f"{removed}")
        check(server.json("GET", "/api/items/5")["path"] == before["path"], "item 6 did not move down to 5")
        server.json("DELETE", "/api/items/10002", expect=404)
        hits = server.search(image, "image/png", "k=1")["queries"][0]["results"]
        check(hits[0]["id"] == 9999, f"after the removal the upload is item 9999: {hits}")
    # Kept on disk: a new server, and the command line, see the same collection.
    with Server(folder) as server:
        info = server.json("GET", "/api/info")
        check(info["vectors"] == 10002, f"after a restart: {info['vectors']} vectors")
        hits = server.search(image, "image/png", "k=1")["queries"][0]["results"]
        check(hits[0]["id"] == 9999 and hits[0]["class"] == "Bag", f"after a restart: {hits}")
    by_cli = json.loads(run("index", "search", folder, "--image", QUERIES[0], "-k", "1", "--json"))
    check(by_cli[0]["results"][0]["id"] == 9999, f"imret index search after the writes: {by_cli}")
    # An embedding folder is not written; an HNSW index adds but cannot remove.
    refused = subprocess.run([IMRET, "serve", f"{FIXTURE}/db", "--port", "0", "--allow-writes"], capture_output=True,
                             text=True, timeout=120)
    check(refused.returncode != 0 and refused.stderr.count("\n") == 1 and "index folder" in refused.stderr,
          f"an embedding folder with --allow-writes: {refused.returncode} {refused.stderr!r}")
    hnsw = os.path.join(FIXTURE, "scratch", "hnsw")
    run("-q", "index", "build", f"{FIXTURE}/db", "--index", "faiss:HNSW16", "--metric", "cosine", "-o", hnsw,
        "--overwrite")
    with Server(hnsw, "--allow-writes") as server:
        answer = server.json("DELETE", "/api/items/3", expect=409)
        check("HNSW" in answer["error"] and "Flat" in answer["error"], f"HNSW removal: {answer}")
        server.json("POST", "/api/items", image, {"Content-Type": "image/png"}, expect=201)
        hits = server.search(image, "image/png", "k=1&efSearch=64")["queries"][0]["results"]
        check(hits[0]["id"] == 10000, f"HNSW after an add: {hits}")


def case_kill9():
    """kill -9 while items are being added and removed: the folder on disk is
    always a whole index, of one of the sizes the server answered or was
    about to answer."""
    folder = writable_copy("kill9")
    image = read(QUERIES[2])
    rng = np.random.default_rng(9)
    for round_ in range(4):
        server = Server(folder, "--allow-writes")
        sizes = [json.loads(server.request("GET", "/api/info")[2])["vectors"]]
        stop = threading.Event()
        def write():
            while not stop.is_set():
                try:
                    status, _, body = server.request("POST", "/api/items", image, {"Content-Type": "image/png"},
                                                     timeout=10)
                    if status == 201:
                        sizes.append(json.loads(body)["vectors"])
                    status, _, body = server.request("DELETE", "/api/items/0", timeout=10)
                    if status == 200:
                        sizes.append(json.loads(body)["vectors"])
                except (ConnectionError, OSError):
                    return
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.5 + rng.random() * 1.5)
        server.process.kill()
        server.process.wait()
        stop.set()
        writer.join()
        info = json.loads(run("index", "info", folder, "--json"))
        possible = set(sizes) | {sizes[-1] + 1, sizes[-1] - 1}
        check(info["count"] in possible, f"round {round_}: {info['count']} vectors on disk, answered {sizes[-3:]}")
        check(len(sizes) > 1, f"round {round_}: no write was answered before the kill")
    with Server(folder) as server:
        server.search(image, "image/png", "k=1")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def fuzz_request(rng, image):
    """Random bytes on the wire: (request bytes, whether it is complete)."""
    methods = ["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT", "G\x00T", "A" * 300]
    paths = ["/", "/api/health", "/api/info", "/api/search", "/api/items", "/api/items/3", "/api/items/3/image",
             "/metrics", "/api/items/-1", "/api/items/99999999999999999999", "/%00", "/api/search?k=%ff%fe",
             "/api/search?" + "k=1&" * 500, "//..//..//etc/passwd", "/api/items/1/image/..", "*",
             "http://evil/api/info", "/" + "a" * 9000]
    method = methods[rng.integers(len(methods))]
    path = paths[rng.integers(len(paths))]
    if rng.random() < 0.2:
        path = "/" + bytes(rng.integers(33, 127, rng.integers(1, 60), dtype=np.uint8)).decode()
    kind = rng.integers(8)
    headers = [("Host", "127.0.0.1")]
    if kind == 0:
        body, ctype = json.dumps({"id": int(rng.integers(-5, 12000))}).encode(), "application/json"
    elif kind == 1:
        body, ctype = bytes(rng.integers(0, 256, rng.integers(0, 4000), dtype=np.uint8)), "image/png"
    elif kind == 2:
        multi, ctype = multipart([("file", "q.png", image)])
        body = multi[:rng.integers(1, len(multi))]  # truncated multipart
    elif kind == 3:
        body = b'{"embedding": [' + b"1e309," * int(rng.integers(1, 200)) + b"1]}"
        ctype = "application/json"
    elif kind == 4:
        body, ctype = image[:rng.integers(0, len(image))], "image/png"
    elif kind == 5:
        body, ctype = b"", "multipart/form-data; boundary=" + "x" * int(rng.integers(0, 200))
    elif kind == 6:
        body, ctype = json.dumps({"images": ["!!notbase64" * int(rng.integers(1, 50))]}).encode(), "application/json"
    else:
        body, ctype = json.dumps({"embeddings": [[0.1] * 64] * int(rng.integers(0, 60))}).encode(), "application/json"
    headers.append(("Content-Type", ctype))
    length = len(body)
    complete = True
    if rng.random() < 0.15:  # claims more than it sends: the server waits, then gives up
        length += int(rng.integers(1, 100000))
        complete = False
    headers.append(("Content-Length", str(length)))
    if rng.random() < 0.1:
        headers.append(("X-Huge", "h" * int(rng.integers(1000, 70000))))
    if rng.random() < 0.1:
        headers += [(f"X-Many-{i}", "v") for i in range(int(rng.integers(50, 400)))]
    if rng.random() < 0.05:  # a body that is not in chunks: the server waits for the next chunk
        headers.append(("Transfer-Encoding", "chunked"))
        complete = False
    if rng.random() < 0.05:
        headers.append(("Authorization", "Bearer " + "z" * int(rng.integers(0, 5000))))
    head = f"{method} {path} HTTP/1.1\r\n".encode("latin-1", "replace")
    head += b"".join(f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in headers) + b"\r\n"
    if rng.random() < 0.05:  # garbage instead of a request line
        head = bytes(rng.integers(0, 256, rng.integers(1, 3000), dtype=np.uint8)) + b"\r\n\r\n"
    return head + body, complete


def case_fuzz():
    """An endpoint fuzz run on loopback, bounded in count and time: random
    methods, paths, headers, bodies, truncated multipart, huge headers. The
    server never crashes, answers every complete request with a well-formed
    status line, and its memory stays bounded."""
    import socket
    folder = writable_copy("fuzz")
    image = read(QUERIES[3])
    rng = np.random.default_rng(int(os.environ.get("IMRET_FUZZ_SEED", "20")))
    count = int(os.environ.get("IMRET_SERVE_FUZZ_REQUESTS", "1500"))
    deadline = time.time() + float(os.environ.get("IMRET_SERVE_FUZZ_SECONDS", "60"))
    with Server(folder, "--allow-writes", "--max-upload-mb", "1") as server:
        server.search(image, "image/png")
        baseline = rss_kb(server.process.pid)
        statuses, unanswered, sent = {}, 0, 0
        status_line = re.compile(rb"^HTTP/1\.[01] ([1-5][0-9][0-9]) ")
        while sent < count and time.time() < deadline:
            data, complete = fuzz_request(rng, image)
            sent += 1
            # Like a real client: send, then read the answer (a half-closed
            # socket gets none from cpp-httplib). A request that promised more
            # body than it sent gets a short wait and is dropped.
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=15 if complete else 0.3)
            reply = b""
            try:
                try:
                    sock.sendall(data)
                except OSError:  # the server closed first (a limit): it must still have answered
                    pass
                try:
                    while len(reply) < 64:
                        chunk = sock.recv(4096)
                        if not chunk:
                            break
                        reply += chunk
                except (socket.timeout, ConnectionResetError):
                    pass
            finally:
                sock.close()
            match = status_line.match(reply)
            if match:
                statuses[int(match.group(1))] = statuses.get(int(match.group(1)), 0) + 1
            elif reply or complete:
                unanswered += 1
                if unanswered <= 5:
                    print(f"no well-formed answer to request {sent}: {data[:120]!r} -> {reply[:80]!r}")
            check(server.process.poll() is None, f"the server died at request {sent}: {data[:200]!r}")
        grown = rss_kb(server.process.pid) - baseline
        print(f"{sent} requests, statuses {dict(sorted(statuses.items()))}, {unanswered} unanswered, "
              f"memory {baseline // 1024} MB + {grown // 1024} MB")
        check(sent >= min(count, 1000), f"only {sent} requests in the time allowed")
        check(unanswered <= sent // 100, f"{unanswered} complete requests got no well-formed answer")
        check(500 not in statuses, f"internal errors: {statuses}")
        check(grown < 300 * 1024, f"memory grew by {grown // 1024} MB")
        check(server.request("GET", "/api/health")[0] == 200, "health after the fuzz run")
        server.search(image, "image/png")
        info = server.json("GET", "/api/info")
    run("index", "info", folder)  # whatever the fuzz added or removed, the folder is whole


CASES = {name[5:]: f for name, f in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        fail(f"usage: serve_cases.py {'|'.join(CASES)}")
    CASES[sys.argv[1]]()
    print(f"serve.{sys.argv[1]}: ok")
