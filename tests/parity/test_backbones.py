#!/usr/bin/python3
"""Pooling, multi-scale descriptors, whitening and TorchScript backbones
through `imret embed`, against Python references:

  - TorchScript: the same module run by Python's torch (torch.jit.trace of a
    torchvision ResNet-18 body, torch.jit.script of a module returning a dict);
  - pooling (mac, spoc, gem, rmac) and multi-scale: NumPy/torch functions
    written here from the papers' definitions (cirtorch's R-MAC regions,
    Babenko's Gaussian centre prior), over the feature maps Python's torch
    computes;
  - PCA whitening: scikit-learn's PCA(whiten=True), then L2;
  - learned whitening: Radenovic et al.'s two steps (whiten the matching
    pairs' differences with an inverse Cholesky factor, then rotate onto the
    principal directions), written with NumPy.

The images and the ResNet-18 weights come from tests/e2e/lib/torchvision_folder.py
(the tensor path there equals torchvision's transforms to 1e-4).
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "e2e", "lib", "torchvision_folder.py")
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def imret(*args, ok=True):
    binary = os.environ.get("IMRET")
    if not binary:
        raise RuntimeError("IMRET is not set (run through ctest)")
    run = subprocess.run([binary, "-q", *args], capture_output=True, text=True)
    if ok and run.returncode != 0:
        raise AssertionError(f"imret {' '.join(args)} failed: {run.stderr}")
    return run


def load(folder):
    return np.load(os.path.join(folder, "embeddings.npy"))


def items(folder):
    with open(os.path.join(folder, "items.jsonl")) as f:
        return [json.loads(line) for line in f]


def meta(folder):
    with open(os.path.join(folder, "meta.json")) as f:
        return json.load(f)


def safetensors(path):
    import struct
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I64": np.int64}[e["dtype"]]
        start, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(blob[8 + n + start:8 + n + end], dtype=dtype).reshape(e["shape"]).copy())
    return out


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- references, from the definitions ------------------------------------

def gem(fmap, p):
    return fmap.clamp(min=1e-6).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


def mac(fmap):
    return fmap.amax(dim=(2, 3))


def spoc(fmap):
    h, w = fmap.shape[2:]
    sigma = min(h, w) / 6.0
    y = torch.arange(h, dtype=fmap.dtype) + 0.5 - h / 2
    x = torch.arange(w, dtype=fmap.dtype) + 0.5 - w / 2
    prior = torch.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma ** 2))
    return (fmap * prior).sum(dim=(2, 3))


def rmac(fmap, levels=3):
    """Tolias et al.'s R-MAC with the region grid as cirtorch lays it out."""
    def normed(v):
        return v / (v.norm(dim=1, keepdim=True) + 1e-6)
    h, w = fmap.shape[2:]
    short = min(h, w)
    extra_h = extra_w = 0
    if h != w:  # in float32, as cirtorch computes it (its ties, e.g. 10 x 18, go to the fewer regions)
        steps = torch.arange(2, 8, dtype=torch.float32)
        b = (max(h, w) - short) / (steps - 1)
        extra = int(torch.argmin(torch.abs((short ** 2 - short * b) / short ** 2 - 0.4))) + 1
        if w > h:
            extra_w = extra
        else:
            extra_h = extra
    out = normed(mac(fmap))
    for level in range(1, levels + 1):
        size = math.floor(2 * short / (level + 1))
        if size == 0:
            continue
        half = math.floor(size / 2 - 1)

        def starts(side, more):
            count = level + more
            step = 0 if count == 1 else (side - size) / (count - 1)
            return [int(math.floor(half + i * step) - half) for i in range(count)]
        for top in starts(h, extra_h):
            for left in starts(w, extra_w):
                out = out + normed(mac(fmap[:, :, top:top + size, left:left + size]))
    return out


def preprocess(paths, resize=64, crop=56):
    """The fixture's tensor path: ToTensor, antialiased Resize, CenterCrop, Normalize."""
    from torchvision import transforms
    t = transforms.Compose([transforms.ToTensor(), transforms.Resize(resize, antialias=True),
                            transforms.CenterCrop(crop), transforms.Normalize(MEAN, STD)])
    return torch.stack([t(Image.open(p).convert("RGB")) for p in paths])


def set_up_fixture(cls):
    """The fixture's folder on a test class: tmp, work, images, common (the
    `imret embed` arguments for its ResNet-18 and images); returns the
    torchvision ResNet-18 with the fixture's weights."""
    cls.tmp = tempfile.TemporaryDirectory()
    cls.work = cls.tmp.name
    subprocess.run([sys.executable, FIXTURE, cls.work], check=True, capture_output=True)
    cls.images = os.path.join(cls.work, "images")
    weights = os.path.join(cls.work, "resnet18.pth")
    cls.common = ["--arch", "resnet18", "--weights", weights, "--data", cls.images, "--resize", "64", "--crop", "56"]
    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(weights))
    return model


class Backbones(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        model = set_up_fixture(cls)
        cls.body = torch.nn.Sequential(*list(model.children())[:-2]).eval()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.work, name)

    def embedded_gap(self, split):
        folder = self.out(f"gap-{split}")
        if not os.path.exists(folder):
            imret("embed", *self.common, "--split", split, "-o", folder)
        return folder

    def feature_maps(self, split="test", resize=64, crop=56):
        paths = [item["source"] for item in items(self.embedded_gap(split))]
        with torch.no_grad():
            return self.body(preprocess(paths, resize, crop))

    def assert_close(self, ours, reference, tolerance=1e-4, what=""):
        reference = np.asarray(reference, dtype=np.float64)
        scale = max(1.0, np.abs(reference).max())
        error = np.abs(ours - reference).max() / scale
        self.assertLessEqual(error, tolerance, f"{what}: max relative difference {error:.2e}")

    # --- pooling on a resnet with torchvision weights ----------------------

    def test_pooling_equals_the_definitions(self):
        fmap = self.feature_maps(resize=160, crop=144)  # a 5 x 5 map: R-MAC has regions on 3 levels
        self.assertEqual(tuple(fmap.shape[2:]), (5, 5))
        references = {"mac": mac(fmap), "spoc": spoc(fmap), "gem:p=3": gem(fmap, 3.0), "gem:p=4.5": gem(fmap, 4.5),
                      "rmac": rmac(fmap, 3), "rmac:levels=2": rmac(fmap, 2), "gap": fmap.mean(dim=(2, 3))}
        common = [a if a not in ("64", "56") else {"64": "160", "56": "144"}[a] for a in self.common]
        for pool, reference in references.items():
            folder = self.out("pool-" + pool.replace(":", "_").replace("=", "_"))
            imret("embed", *common, "--split", "test", "--pool", pool, "-o", folder)
            self.assert_close(load(folder), reference.numpy(), what=pool)
            self.assertEqual(meta(folder)["network"].get("pool", "gap"), pool if pool != "rmac" else "rmac:levels=3")
        # The pools differ from each other: a mixed-up pooling would be caught.
        self.assertGreater(np.abs(references["mac"].numpy() - references["gap"].numpy()).max(), 0.1)
        self.assertGreater(np.abs(references["spoc"].numpy() - 25 * references["gap"].numpy()).max(), 0.1)

    def test_rmac_regions_on_a_wide_map(self):
        # A scripted module whose feature map is wider than high: the long side gets extra regions.
        fmap = self.scripted_outputs()["map"]
        self.assertNotEqual(fmap.shape[2], fmap.shape[3])
        folder = self.out("ts-rmac")
        imret("embed", "--model", self.scripted_model(), "--data", self.images, "--split", "test",
              "--resize", "64", "--crop", "56", "--model-output", "map", "--pool", "rmac", "-o", folder)
        self.assert_close(load(folder), rmac(fmap, 3).numpy(), what="rmac on a wide map")
        # The finer levels' regions count: one level less gives another descriptor.
        self.assertGreater(np.abs(rmac(fmap, 3).numpy() - rmac(fmap, 2).numpy()).max(), 1e-2)

    def test_multi_scale(self):
        paths = self.query_paths()
        x = preprocess(paths)
        with torch.no_grad():
            total = 0
            for s in (1.0, 0.707, 1.414):
                xs = x if s == 1.0 else F.interpolate(x, size=(round(56 * s), round(56 * s)), mode="bilinear",
                                                      align_corners=False)
                total = total + F.normalize(self.body(xs).mean(dim=(2, 3)), dim=1)
            reference = F.normalize(total, dim=1)
        folder = self.out("multiscale")
        imret("embed", *self.common, "--split", "test", "--scales", "1,0.707,1.414", "-o", folder)
        self.assert_close(load(folder), reference.numpy(), what="scales 1,0.707,1.414")
        self.assertEqual(meta(folder)["network"]["scales"], [1, 0.707, 1.414])
        # One scale is the plain embedding.
        single = self.out("scale-1")
        imret("embed", *self.common, "--split", "test", "--scales", "1", "-o", single)
        np.testing.assert_array_equal(load(single), load(self.embedded_gap("test")))

    # --- TorchScript -------------------------------------------------------

    def query_paths(self):
        return [item["source"] for item in items(self.embedded_gap("test"))]

    def traced_model(self):
        path = self.out("body.pt")
        if not os.path.exists(path):
            torch.jit.trace(self.body, torch.rand(1, 3, 56, 56)).save(path)
            with open(self.out("body.json"), "w") as f:
                json.dump({"resize": 64, "crop": 56, "mean": MEAN, "std": STD}, f)
        return path

    def scripted_model(self):
        path = self.out("two.pt")
        if not os.path.exists(path):
            source = self.out("two_module.py")
            with open(source, "w") as f:
                f.write(textwrap.dedent("""
                    from typing import Dict
                    import torch

                    class Two(torch.nn.Module):
                        def __init__(self):
                            super().__init__()
                            self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)
                            self.bn = torch.nn.BatchNorm2d(8)
                            self.fc = torch.nn.Linear(8, 6)

                        def forward(self, x) -> Dict[str, torch.Tensor]:
                            f = torch.relu(self.bn(self.conv(x)))[:, :, :, 7:]
                            return {"map": f, "embedding": self.fc(f.mean([2, 3]))}
                    """))
            sys.path.insert(0, self.work)
            import two_module
            torch.manual_seed(1)
            module = two_module.Two()
            with torch.no_grad():
                module.bn.running_mean.uniform_(-0.2, 0.2)
                module.bn.running_var.uniform_(0.5, 2)
            torch.jit.script(module.eval()).save(path)
        return path

    def scripted_outputs(self):
        module = torch.jit.load(self.scripted_model()).eval()
        with torch.no_grad():
            return module(preprocess(self.query_paths()))

    def test_traced_torchvision_body_equals_python(self):
        model = self.traced_model()
        folder = self.out("ts-gap")
        imret("embed", "--model", model, "--data", self.images, "--split", "test", "-o", folder)  # body.json
        traced = torch.jit.load(model).eval()
        with torch.no_grad():
            fmap = traced(preprocess(self.query_paths()))
        self.assert_close(load(folder), fmap.mean(dim=(2, 3)).numpy(), what="traced body, average pooling")
        # The same as imret's own ResNet-18 with the same weights.
        self.assert_close(load(folder), load(self.embedded_gap("test")), what="traced vs imret's resnet18")
        gem_folder = self.out("ts-gem")
        imret("embed", "--model", model, "--data", self.images, "--split", "test", "--pool", "gem:p=2.5", "-o",
              gem_folder)
        self.assert_close(load(gem_folder), gem(fmap, 2.5).numpy(), what="traced body, GeM")
        recorded = meta(folder)
        self.assertEqual(recorded["model"], model)
        self.assertEqual(recorded["preprocess"]["crop"], 56)
        # search --image embeds the query with the recorded module.
        hits = json.loads(imret("search", "-d", folder, "--image", self.query_paths()[0], "-k", "1", "--json").stdout)
        self.assertEqual(hits[0]["results"][0]["id"], 0)
        self.assertLess(hits[0]["results"][0]["distance"], 1e-3)

    def test_scripted_dict_output(self):
        outputs = self.scripted_outputs()
        folder = self.out("ts-embedding")
        imret("embed", "--model", self.scripted_model(), "--data", self.images, "--split", "test", "--resize", "64",
              "--crop", "56", "--model-output", "embedding", "-o", folder)
        self.assert_close(load(folder), outputs["embedding"].numpy(), what="scripted dict output")

    def test_torchscript_errors(self):
        model = self.scripted_model()
        run = imret("embed", "--model", model, "--data", self.images, "-o", self.out("x"), ok=False)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("name the output to use", run.stderr)
        run = imret("embed", "--model", model, "--data", self.images, "--model-output", "logits", "-o", self.out("x"),
                    ok=False)
        self.assertIn("no such key (it has: map, embedding)", run.stderr.replace("embedding, map", "map, embedding"))
        run = imret("embed", "--model", os.path.join(self.work, "resnet18.pth"), "--data", self.images, "-o",
                    self.out("x"), ok=False)
        self.assertIn("resnet18.pth: not a TorchScript module", run.stderr)
        run = imret("embed", "--model", model, "--model-output", "embedding", "--pool", "gem", "--data", self.images,
                    "-o", self.out("x"), ok=False)
        self.assertIn("already a vector", run.stderr)
        with open(self.out("bad.json"), "w") as f:
            f.write('{"input_size": "big"}')
        run = imret("embed", "--model", model, "--model-settings", self.out("bad.json"), "--data", self.images, "-o",
                    self.out("x"), ok=False)
        self.assertIn("bad.json: \"input_size\" should be a whole number", run.stderr)
        self.assertEqual(len(run.stderr.strip().splitlines()), 1, run.stderr)
        self.assertFalse(os.path.exists(self.out("x")))

    def train(self, *args):
        out = self.out("train-" + str(len(os.listdir(self.work))))
        imret("train", "--data", self.images, "--method", "triplet", "--epochs", "1", "--classes-per-batch", "3",
              "--images-per-class", "4", "--val-fraction", "0", "--workers", "1", "-o", out, *args)
        return os.path.join(out, "checkpoints", "last.safetensors")

    def test_training_a_torchscript_backbone(self):
        checkpoint = self.train("--model", self.traced_model())
        trained = safetensors(checkpoint)
        module = torch.jit.load(self.traced_model()).eval()
        changed = 0
        with torch.no_grad():
            for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
                new = trained["model." + name]
                changed += int(not torch.equal(new, tensor))
                tensor.copy_(new)
            reference = module(preprocess(self.query_paths())).mean(dim=(2, 3))
        self.assertGreater(changed, 10, "training left the module's weights alone")
        folder = self.out("ts-trained")
        imret("embed", "-c", checkpoint, "--data", self.images, "--split", "test", "-o", folder)
        self.assert_close(load(folder), reference.numpy(), what="trained TorchScript checkpoint")
        run = imret("train", "--model", self.traced_model(), "--data", self.images, "-o", self.out("x"), ok=False)
        self.assertIn("no classifier to train", run.stderr)
        # A frozen module stays as it was, batch-norm statistics included; the new head trains.
        frozen = safetensors(self.train("--model", self.traced_model(), "--freeze", "backbone", "--head-dim", "8"))
        original = dict(torch.jit.load(self.traced_model()).named_parameters())
        original.update(dict(torch.jit.load(self.traced_model()).named_buffers()))
        for name, tensor in original.items():
            self.assertTrue(torch.equal(frozen["model." + name], tensor), name)
        self.assertEqual(tuple(frozen["embedding_head.weight"].shape), (8, 512))

    def test_gem_p_is_learned(self):
        checkpoint = self.train("--arch", "resnet18", "--weights", os.path.join(self.work, "resnet18.pth"),
                                "--resize", "64", "--crop", "56", "--pool", "gem:p=3")
        trained = safetensors(checkpoint)
        p = float(trained["pool.p"][0])
        self.assertNotEqual(p, 3.0, "GeM's p did not train")
        model = torchvision.models.resnet18(num_classes=3)
        del trained["pool.p"]
        model.load_state_dict(trained)
        body = torch.nn.Sequential(*list(model.children())[:-2]).eval()
        with torch.no_grad():
            reference = gem(body(preprocess(self.query_paths())), p)
        folder = self.out("gem-trained")
        imret("embed", "-c", checkpoint, "--data", self.images, "--split", "test", "-o", folder)
        self.assert_close(load(folder), reference.numpy(), what="GeM with the learned p")

    # --- whitening ---------------------------------------------------------

    def test_pca_whitening_equals_scikit_learn(self):
        from sklearn.decomposition import PCA
        raw = load(self.embedded_gap("train")).astype(np.float64)
        for dim in (16, 0):
            folder = self.out(f"pca-{dim}")
            spec = "pca" if dim == 0 else f"pca:dim={dim}"
            imret("embed", *self.common, "--split", "train", "--whiten", spec, "-o", folder)
            ours = load(folder).astype(np.float64)
            rank = np.linalg.matrix_rank(raw - raw.mean(0))
            components = dim if dim else rank
            self.assertEqual(ours.shape, (len(raw), components))
            reference = unit(PCA(n_components=components, whiten=True, svd_solver="full").fit_transform(raw))
            # Each direction's sign is arbitrary: compare the inner products and |values|.
            np.testing.assert_allclose(ours @ ours.T, reference @ reference.T, atol=2e-3)
            np.testing.assert_allclose(np.abs(ours), np.abs(reference), atol=2e-3)
            self.assertEqual(meta(folder)["whitening"]["method"], "pca")

    def learned_reference(self, x, labels):
        first, second = [], []
        for i, label in enumerate(labels):
            members = [j for j, l in enumerate(labels) if l == label]
            at = members.index(i)
            first.append(i)
            second.append(members[(at + 1) % len(members)])
        m = x[first].mean(0)
        d = x[first] - x[second]
        scatter = d.T @ d / len(d)
        p1 = np.linalg.inv(np.linalg.cholesky(scatter))
        y = (x - m) @ p1.T
        values, vectors = np.linalg.eigh(y.T @ y)
        order = np.argsort(values)[::-1]
        projection = vectors[:, order].T @ p1
        return m, projection

    def test_learned_whitening_equals_the_definition(self):
        # 6-d scripted embeddings: 72 matching pairs span them (no ridge).
        model = self.scripted_model()
        raw_folder = self.out("ts-train-raw")
        args = ["--model", model, "--data", self.images, "--resize", "64", "--crop", "56", "--model-output", "embedding"]
        imret("embed", *args, "--split", "train", "-o", raw_folder)
        raw = load(raw_folder).astype(np.float64)
        labels = [item["label"] for item in items(raw_folder)]
        m, projection = self.learned_reference(raw, labels)
        for dim in (0, 4):
            folder = self.out(f"learned-{dim}")
            imret("embed", *args, "--split", "train", "--whiten", "learned" if dim == 0 else f"learned:dim={dim}",
                  "-o", folder)
            p = projection if dim == 0 else projection[:dim]
            reference = unit((raw - m) @ p.T)
            ours = load(folder).astype(np.float64)
            np.testing.assert_allclose(ours @ ours.T, reference @ reference.T, atol=1e-3)
            np.testing.assert_allclose(np.abs(ours), np.abs(reference), atol=1e-3)
            self.assertNotIn("ridge", meta(folder)["whitening"])
        # Pairs drawn across classes instead would give another whitening: the test can tell.
        shuffled = labels[1:] + labels[:1]
        m2, projection2 = self.learned_reference(raw, shuffled)
        other = unit((raw - m2) @ projection2.T)
        self.assertGreater(np.abs(np.abs(other) - np.abs(load(self.out("learned-0")))).max(), 1e-2)

        # Queries: --whiten-from, evaluate on raw queries and search --image all whiten alike.
        test_raw = self.out("ts-test-raw")
        imret("embed", *args, "--split", "test", "-o", test_raw)
        test_whitened = self.out("ts-test-whitened")
        imret("embed", *args, "--split", "test", "--whiten-from", self.out("learned-0"), "-o", test_whitened)
        expected = unit((load(test_raw).astype(np.float64) - m) @ projection.T)
        np.testing.assert_allclose(np.abs(load(test_whitened)), np.abs(expected), atol=1e-3)
        mine = imret("evaluate", "-q", test_whitened, "-d", self.out("learned-0"), "-o", self.out("ev-w"))
        auto = imret("evaluate", "-q", test_raw, "-d", self.out("learned-0"), "-o", self.out("ev-raw"))
        self.assertIn("whitened the queries", auto.stderr)
        with open(self.out("ev-w/metrics.json")) as a, open(self.out("ev-raw/metrics.json")) as b:
            self.assertAlmostEqual(json.load(a)["retrieval"]["mAP"], json.load(b)["retrieval"]["mAP"], places=6)
        image = os.path.join(self.images, "test", "shirt", "000.jpg")
        hits = json.loads(imret("search", "-d", self.out("learned-0"), "--image", image, "-k", "3", "--json").stdout)
        by_file = json.loads(imret("search", "-d", self.out("learned-0"), "-q", test_whitened, "--first", "1", "-k",
                                   "3", "--json").stdout)
        self.assertEqual([h["id"] for h in hits[0]["results"]], [h["id"] for h in by_file[0]["results"]])
        # Whitened queries against another database's whitening: one clear line.
        run = imret("evaluate", "-q", test_whitened, "-d", self.out("pca-16") if os.path.exists(self.out("pca-16"))
                    else raw_folder, "-o", self.out("ev-x"), ok=False)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("ts-test-whitened", run.stderr)


if __name__ == "__main__":
    unittest.main()
