"""Shared parts of the query-service tests: the fixture (a small real index
with its network, and query images), a real `imret serve` on a free loopback
port, and a small HTTP client. Standard library only, plus numpy."""
import gzip
import http.client
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zlib

IMRET = os.environ["IMRET"]
BUILD = os.environ.get("IMRET_BUILD_DIR", ".")
FIXTURE = os.path.join(BUILD, "serve-fixture")
FASHION = "/usr/share/datasets/fashion-mnist"


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def run(*args, **kwargs):
    result = subprocess.run([IMRET, *args], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        fail(f"imret {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def png(pixels, width, height, channels=1):
    """A PNG of 8-bit grey (channels 1) or RGB (3) pixels, by hand (no PIL needed)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes(pixels[y * width * channels:(y + 1) * width * channels]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if channels == 1 else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def fashion_test_images(first, count):
    """Rows first..first+count-1 of Fashion-MNIST's test images, 784 bytes each."""
    with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as f:
        data = f.read()
    return [data[16 + i * 784:16 + (i + 1) * 784] for i in range(first, first + count)]


def make_fixture():
    """An untrained ConvNet's embeddings of Fashion-MNIST's test split, as
    an embedding folder and an exact cosine index, and query PNGs."""
    os.makedirs(FIXTURE, exist_ok=True)
    run("-q", "train", "--epochs", "0", "--limit", "100", "-o", f"{FIXTURE}/run", "--overwrite")
    run("-q", "embed", "-c", f"{FIXTURE}/run/checkpoints/best.safetensors", "--split", "test",
        "-o", f"{FIXTURE}/db")
    run("-q", "index", "build", f"{FIXTURE}/db", "--index", "exact:cosine", "-o", f"{FIXTURE}/index", "--overwrite")
    os.makedirs(f"{FIXTURE}/queries", exist_ok=True)
    # Training images (not in the database) as PNG files.
    with gzip.open(os.path.join(FASHION, "train-images-idx3-ubyte.gz")) as f:
        data = f.read()
    for i in range(4):
        with open(f"{FIXTURE}/queries/q{i}.png", "wb") as f:
            f.write(png(data[16 + i * 784:16 + (i + 1) * 784], 28, 28))


class Server:
    """`imret serve` on a free loopback port; stops it (SIGTERM) on exit."""

    def __init__(self, folder, *options, env=None):
        self.process = subprocess.Popen([IMRET, "serve", folder, "--port", "0", *options], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)
        line = self.process.stdout.readline()
        match = re.search(r"http://([^:/]+):(\d+)/", line)
        if not match:
            self.process.kill()
            fail(f"imret serve did not start: {line!r} {self.process.stderr.read()}")
        self.host, self.port = match.group(1), int(match.group(2))
        self.banner = line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                fail("imret serve did not stop within 15 s of SIGTERM")

    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, headers, body bytes)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def json(self, method, path, body=None, headers=None, expect=200):
        status, response_headers, data = self.request(method, path, body, headers)
        check(response_headers.get("Content-Type", "").startswith("application/json"),
              f"{method} {path}: not JSON ({response_headers.get('Content-Type')}): {data[:200]!r}")
        answer = json.loads(data)
        check(status == expect, f"{method} {path}: status {status}, expected {expect}: {answer}")
        return answer

    def search(self, body, content_type, query="k=10", expect=200, headers=None):
        return self.json("POST", "/api/search?" + query, body,
                         dict({"Content-Type": content_type}, **(headers or {})), expect)


def multipart(files):
    """A multipart/form-data body of (field, filename, bytes): (body, content type)."""
    boundary = "imret-test-boundary-7f3a"
    parts = []
    for field, name, data in files:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
                     f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
