"""Peer of bench/detection.cpp: torchvision's detector on the same weights and images.

usage: detection_peer.py make DIR IMAGES     writes DIR/{fasterrcnn,maskrcnn}.pth and DIR/imageI.npy (480 x 640)
       detection_peer.py time DIR ARCH THREADS [DEVICE]   prints "seconds_per_image <s> detections <n>"
"""
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "unit", "detect"))
import detector_reference  # noqa: E402  (the random-weight detectors of the parity tests)


def make(folder, count):
    os.makedirs(folder, exist_ok=True)
    for arch in ("fasterrcnn", "maskrcnn"):
        torch.save(detector_reference.build(arch).state_dict(), os.path.join(folder, arch + ".pth"))
    for i in range(count):
        img = detector_reference.image(480, 640, 100 + i)
        np.save(os.path.join(folder, f"image{i}.npy"), img.reshape(1, -1).numpy())


def time_model(folder, arch, threads, device="cpu"):
    torch.set_num_threads(threads)
    model = detector_reference.build(arch)
    model.load_state_dict(torch.load(os.path.join(folder, arch + ".pth")))
    model.to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    images = []
    i = 0
    while os.path.exists(os.path.join(folder, f"image{i}.npy")):
        images.append(torch.from_numpy(np.load(os.path.join(folder, f"image{i}.npy"))).reshape(3, 480, 640).to(device))
        i += 1
    detections = 0
    with torch.no_grad():
        model([images[0]])  # warm-up
        sync()
        begin = time.perf_counter()
        for image in images:
            detections += len(model([image])[0]["boxes"])
        sync()
        elapsed = time.perf_counter() - begin
    print(f"seconds_per_image {elapsed / len(images):.4f} detections {detections}")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    else:
        time_model(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else "cpu")
