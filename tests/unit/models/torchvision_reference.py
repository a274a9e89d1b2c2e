"""Reference outputs of a torchvision ResNet for imret's parity tests.

usage: torchvision_reference.py ARCH OUT_DIR

Builds torchvision.models.ARCH with random weights (seed 0), calibrates its
batch-norm running statistics on random images (so that they are not the
trivial 0/1 and activations stay in a realistic range), and writes into OUT_DIR:
  weights_zip.pth       torch.save(state_dict), zip format
  weights_legacy.pth    torch.save(state_dict, _use_new_zipfile_serialization=False)
  weights.safetensors   the same tensors, written by hand to the safetensors layout
  input.npy             2 x 3 x 64 x 64 float32 input, saved as a 2 x 12288 matrix
  logits.npy            the model's output in eval mode
  features.npy          the pooled features (the input of fc)
  fused_logits.npy, fused_features.npy
                        the same with batch norm folded into the convolutions by
                        PyTorch (torch.fx.experimental.optimization.fuse), as imret
                        runs a network out of training
"""
import json
import struct
import sys

import numpy as np
import torch
import torchvision

SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.int64: "I64"}


def save_safetensors(state_dict, path):
    header, blobs, offset = {}, [], 0
    for name, tensor in state_dict.items():
        data = tensor.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    arch, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)()
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration batches
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, 64, 64))
    model.eval()
    state_dict = model.state_dict()
    torch.save(state_dict, f"{out}/weights_zip.pth")
    torch.save(state_dict, f"{out}/weights_legacy.pth", _use_new_zipfile_serialization=False)
    save_safetensors(state_dict, f"{out}/weights.safetensors")

    torch.manual_seed(1)
    x = torch.randn(2, 3, 64, 64)
    np.save(f"{out}/input.npy", x.reshape(2, -1).numpy())  # .npy readers take matrices

    import torch.fx.experimental.optimization as fx_optimization
    fused = fx_optimization.fuse(model)  # before any hook: fuse() copies the model, hooks included
    for prefix, network in (("", model), ("fused_", fused)):
        features = {}

        def keep_pooled(module, inputs, output, features=features):
            features["pooled"] = torch.flatten(output, 1)  # returns None: the output stays as it is

        network.avgpool.register_forward_hook(keep_pooled)
        with torch.no_grad():
            logits = network(x)
        np.save(f"{out}/{prefix}logits.npy", logits.numpy())
        np.save(f"{out}/{prefix}features.npy", features["pooled"].numpy())


if __name__ == "__main__":
    main()
