"""imret.Embedder: the same embeddings as `imret embed`, from paths and from arrays."""
import gzip
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

import imret

IMRET = os.environ.get("IMRET", "build/imret")


@pytest.fixture(scope="module")
def checkpoint_and_images(tmp_path_factory):
    """An untrained ConvNet's checkpoint, `imret embed` of Fashion-MNIST's test
    split with it, and the split's first 6 images as pixels and PNG files."""
    work = tmp_path_factory.mktemp("embedder")
    subprocess.run([IMRET, "-q", "train", "--epochs", "0", "--limit", "100", "-o", str(work / "run")], check=True)
    checkpoint = work / "run/checkpoints/best.safetensors"
    subprocess.run([IMRET, "-q", "embed", "-c", str(checkpoint), "--split", "test", "-o", str(work / "emb")], check=True)
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
        raw = f.read()
    pixels = np.frombuffer(raw[16:16 + 6 * 784], np.uint8).reshape(6, 28, 28)
    paths = []
    for i in range(6):
        paths.append(str(work / f"{i}.png"))
        Image.fromarray(pixels[i]).save(paths[-1])
    return checkpoint, work, pixels, paths


def test_embeddings_equal_imret_embed(checkpoint_and_images):
    checkpoint, work, pixels, paths = checkpoint_and_images
    reference = imret.data.load_embeddings(work / "emb")
    assert reference.items[0]["source"].endswith("t10k-images-idx3-ubyte.gz#0")
    expected = reference.embeddings[:6]
    embedder = imret.Embedder(str(checkpoint), batch_size=4)
    got = embedder.embed(paths)
    assert got.shape == (6, embedder.dimension) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(embedder.embed(pixels), expected, atol=1e-5)  # a grey uint8 batch
    np.testing.assert_allclose(embedder.embed(np.repeat(pixels[..., None], 3, axis=3)), expected, atol=1e-5)


def test_embeds_as_a_whitened_database_was(checkpoint_and_images):
    """database=: the folder's network and its whitening, as imret embed --whiten-from gives."""
    checkpoint, work, pixels, paths = checkpoint_and_images
    subprocess.run([IMRET, "-q", "embed", "-c", str(checkpoint), "--split", "train", "--whiten", "pca:dim=16", "-o",
                    str(work / "white")], check=True, capture_output=True)
    subprocess.run([IMRET, "-q", "embed", "-c", str(checkpoint), "--split", "test", "--whiten-from",
                    str(work / "white"), "-o", str(work / "white-test")], check=True, capture_output=True)
    expected = imret.data.load_embeddings(work / "white-test").embeddings[:6]
    embedder = imret.Embedder(database=str(work / "white"))
    assert embedder.dimension == 16
    np.testing.assert_allclose(embedder.embed(pixels), expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(expected, axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="database="):
        imret.Embedder()


def test_bad_input(checkpoint_and_images, tmp_path):
    checkpoint, work, pixels, _ = checkpoint_and_images
    embedder = imret.Embedder(str(checkpoint), batch_size=2)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        embedder.embed([str(tmp_path / "nope.png")])
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(imret.FormatError, match="bad.png"):
        embedder.embed([str(tmp_path / "bad.png")])
    with pytest.raises(ValueError, match="uint8"):
        embedder.embed(pixels.astype(np.float32))
    with pytest.raises(ValueError, match="empty"):
        embedder.embed([])
    with pytest.raises(FileNotFoundError):
        imret.Embedder(str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="device"):
        imret.Embedder(str(checkpoint), device="tpu")


def test_precision(checkpoint_and_images):
    """precision="bf16" embeds as `imret embed --precision bf16`; the CPU refuses fp16 and tf32 by name."""
    checkpoint, work, pixels, paths = checkpoint_and_images
    subprocess.run([IMRET, "-q", "embed", "-c", str(checkpoint), "--split", "test", "--precision", "bf16", "-o",
                    str(work / "bf16")], check=True, capture_output=True)
    expected = imret.data.load_embeddings(work / "bf16").embeddings[:6]
    fp32 = imret.data.load_embeddings(work / "emb").embeddings[:6]
    got = imret.Embedder(str(checkpoint), precision="bf16").embed(paths)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(got - fp32).max() > 1e-4, "bf16 should differ from fp32"
    for precision, words in (("fp16", "fp16 on device cpu"), ("tf32", "tf32 on device cpu"),
                             ("half", "expected fp32, tf32, bf16 or fp16")):
        with pytest.raises(ValueError, match=words):
            imret.Embedder(str(checkpoint), precision=precision)
