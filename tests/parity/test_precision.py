#!/usr/bin/python3
"""--precision on the CPU, through the real program, against PyTorch:

  - `imret embed --precision bf16` of a torchvision ResNet-18 (random weights)
    against the same network run by Python's torch under
    torch.autocast("cpu", dtype=torch.bfloat16), channels-last and with batch
    norm folded (torch.fx's fuse) as imret runs it: imret must agree with PyTorch's bfloat16 result far better than with
    float32 (so bf16 really ran, and ran as PyTorch runs it), and fp32 must
    equal PyTorch's float32;
  - the embeddings' retrieval quality (mAP of the test split against the train
    split) at bf16 within 0.002 of fp32;
  - `imret train --precision bf16`: trains (finite loss), records the setting;
  - the refusals: fp16 and tf32 on the CPU, an unknown precision; one line
    naming the setting and the device, nothing written.

The images and weights come from tests/e2e/lib/torchvision_folder.py. The GPU
numbers (every precision, throughput) come from scripts/gpu/precision_check.sh.
"""
import csv
import json
import os
import sys
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_backbones import imret, items, load, meta, preprocess, set_up_fixture  # noqa: E402


def average_precision(ranked_relevant, total_relevant):
    hits = np.cumsum(ranked_relevant)
    precision = hits / np.arange(1, len(ranked_relevant) + 1)
    return float((precision * ranked_relevant).sum() / total_relevant)


def mean_average_precision(queries, query_labels, database, database_labels):
    distances = ((queries[:, None, :] - database[None, :, :]) ** 2).sum(-1)
    scores = []
    for q in range(len(queries)):
        order = np.argsort(distances[q], kind="stable")
        relevant = (database_labels[order] == query_labels[q]).astype(np.float64)
        scores.append(average_precision(relevant, relevant.sum()))
    return float(np.mean(scores))


class Precision(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        model = set_up_fixture(cls)
        model.fc = torch.nn.Identity()
        # imret folds batch norm into the convolutions out of training, as PyTorch's fx fuse does.
        import torch.fx.experimental.optimization as fx_optimization
        cls.model = fx_optimization.fuse(model.eval()).to(memory_format=torch.channels_last)
        cls.folders = {}
        for precision in ("fp32", "bf16"):
            for split in ("train", "test"):
                folder = os.path.join(cls.work, f"{precision}-{split}")
                imret("embed", *cls.common, "--split", split, "--precision", precision, "-o", folder)
                cls.folders[precision, split] = folder

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def reference(self, split, bf16):
        paths = [item["source"] for item in items(self.folders["fp32", split])]
        x = preprocess(paths).contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return self.model(x).float().numpy()

    def test_bf16_is_pytorch_autocast(self):
        ours = load(self.folders["bf16", "test"])
        fp32 = load(self.folders["fp32", "test"])
        torch_bf16 = self.reference("test", bf16=True)
        torch_fp32 = self.reference("test", bf16=False)
        scale = np.abs(torch_fp32).max()
        self.assertLessEqual(np.abs(fp32 - torch_fp32).max() / scale, 1e-4, "fp32 is PyTorch's float32")
        to_torch = np.abs(ours - torch_bf16).max() / scale
        to_fp32 = np.abs(ours - torch_fp32).max() / scale
        print(f"bf16: max relative difference to PyTorch's autocast {to_torch:.2e}, to float32 {to_fp32:.2e}")
        self.assertGreater(to_fp32, 1e-3, "bf16 should change the result (8 bits of mantissa)")
        self.assertLess(to_torch, to_fp32 / 10, "imret's bf16 should be PyTorch's autocast, not another rounding")
        self.assertEqual(ours.dtype, np.float32)
        self.assertEqual(meta(self.folders["bf16", "test"])["precision"], "bf16")
        self.assertEqual(meta(self.folders["fp32", "test"])["precision"], "fp32")

    def test_bf16_keeps_the_retrieval_quality(self):
        def labels(folder):
            return np.array([item["label"] for item in items(folder)])
        maps = {}
        for precision in ("fp32", "bf16"):
            database, queries = self.folders[precision, "train"], self.folders[precision, "test"]
            maps[precision] = mean_average_precision(load(queries), labels(queries), load(database), labels(database))
        print(f"mAP fp32 {maps['fp32']:.4f}, bf16 {maps['bf16']:.4f}")
        self.assertGreater(maps["fp32"], 0.4, "the random network should still rank by class better than chance")
        self.assertLessEqual(abs(maps["bf16"] - maps["fp32"]), 0.002)

    def test_training_in_bf16(self):
        run = os.path.join(self.work, "train-bf16")
        imret("train", "--method", "triplet", "--epochs", "1", "--limit", "600", "--classes-per-batch", "5",
              "--images-per-class", "8", "--precision", "bf16", "--workers", "1", "--out", run)
        with open(os.path.join(run, "train_log.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 1)
        self.assertTrue(np.isfinite(float(rows[0]["train_loss"])))
        self.assertGreater(float(rows[0]["val_map_at_r"]), 0.2, "validation (in bf16 too) should find structure")
        with open(os.path.join(run, "checkpoints", "last.json")) as f:
            self.assertEqual(json.load(f)["config"]["precision"], "bf16")
        with open(os.path.join(run, "config.yaml")) as f:
            self.assertIn("precision: bf16", f.read())

    def test_refusals(self):
        for precision, device_word in (("fp16", "device cpu"), ("tf32", "device cpu"), ("half", "expected fp32")):
            for command in (["embed", *self.common, "--split", "test"], ["train", "--epochs", "1", "--limit", "100"]):
                out = os.path.join(self.work, f"refused-{precision}-{command[0]}")
                run = imret(*command, "--precision", precision, "--out" if command[0] == "train" else "-o", out,
                            ok=False)
                self.assertNotEqual(run.returncode, 0, f"{command[0]} --precision {precision} ran")
                lines = run.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, run.stderr)
                self.assertIn(f"--precision {precision}", lines[0])
                self.assertIn(device_word, lines[0])
                self.assertFalse(os.path.exists(out), f"{out} was written")


if __name__ == "__main__":
    unittest.main()
