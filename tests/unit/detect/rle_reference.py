"""Independent COCO RLE for coco_rle_test.cpp and coco_results_test.cpp.

A plain-Python (and numpy) rendering of what pycocotools' mask.encode,
mask.area, mask.toBbox and the compressed "counts" strings do (maskApi.c:
rleEncode, rleArea, rleToBbox, rleToString, rleFrString), written from their
definitions: runs over the mask in column-major (Fortran) order starting with
a run of zeros; the string form writes each count (from the fourth on, minus
the count two before it) as a signed number in 5-bit groups, least
significant first, each group a character chr(48 + group), plus 32 when
another group follows.

Usage:
  rle_reference.py encode IN.json OUT.json
      IN:  {"masks": [{"height": h, "width": w, "bits": "0110..." (row by row)}],
            "counts": [[c0, c1, ...], ...]}
      OUT: {"masks": [{"counts": [...], "string": "...", "area": n,
                       "bbox": [x, y, w, h], "decoded": [...] (counts of the
                       string decoded again)}],
            "counts": [{"string": "...", "decoded": [...]}]}
  rle_reference.py results RESULTS.json OUT.json
      Loads a COCO results file with the json module and writes each result
      with its segmentation decoded: {"results": [{"image_id", "category_id",
      "bbox", "score", "size": [h, w] or null, "bits": "0110..." (row by row)
      or null, "area": n or null}]}
"""
import json
import sys

import numpy as np


def encode(mask):
    """Counts of a 2-D 0/1 array, column-major, starting with zeros."""
    flat = np.asarray(mask, dtype=np.uint8).ravel(order="F")
    if flat.size == 0:
        return [0]
    # Positions where the value changes, plus the two ends.
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], changes, [flat.size]))
    counts = list(np.diff(edges).astype(np.int64))
    if flat[0] == 1:
        counts = [0] + counts
    return [int(c) for c in counts]


def to_string(counts):
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        while True:
            group = x & 0x1F  # Python's & and >> on negative ints are two's complement
            x >>= 5
            last = (x == -1) if (group & 0x10) else (x == 0)
            out.append(chr(48 + group + (0 if last else 32)))
            if last:
                break
    return "".join(out)


def from_string(text):
    counts = []
    p = 0
    while p < len(text):
        x = 0
        shift = 0
        while True:
            c = ord(text[p]) - 48
            p += 1
            x |= (c & 0x1F) << shift
            shift += 5
            if not c & 0x20:
                if c & 0x10:
                    x -= 1 << shift
                break
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode(counts, height, width):
    flat = np.zeros(height * width, dtype=np.uint8)
    position = 0
    for i, count in enumerate(counts):
        if i % 2 == 1:
            flat[position:position + count] = 1
        position += count
    assert position == height * width, (position, height, width)
    return flat.reshape((height, width), order="F")


def bbox(mask):
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [0, 0, 0, 0]
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def bits_to_mask(bits, height, width):
    assert len(bits) == height * width
    return (np.frombuffer(bits.encode("ascii"), dtype=np.uint8) - ord("0")).reshape((height, width))


def mask_to_bits(mask):
    return "".join("1" if v else "0" for v in np.asarray(mask).ravel(order="C"))


def run_encode(source, target):
    with open(source) as f:
        data = json.load(f)
    masks = []
    for item in data.get("masks", []):
        mask = bits_to_mask(item["bits"], item["height"], item["width"])
        counts = encode(mask)
        text = to_string(counts)
        decoded = from_string(text)
        assert decoded == counts, "string round trip"
        assert (decode(counts, item["height"], item["width"]) == mask).all(), "decode"
        masks.append({"counts": counts, "string": text, "area": int(mask.sum()), "bbox": bbox(mask),
                      "decoded": decoded})
    lists = []
    for counts in data.get("counts", []):
        text = to_string(counts)
        lists.append({"string": text, "decoded": from_string(text)})
    with open(target, "w") as f:
        json.dump({"masks": masks, "counts": lists}, f)


def run_results(source, target):
    with open(source) as f:
        results = json.load(f)
    assert isinstance(results, list)
    out = []
    for r in results:
        entry = {"image_id": r["image_id"], "category_id": r["category_id"], "bbox": r["bbox"], "score": r["score"],
                 "size": None, "bits": None, "area": None}
        assert isinstance(r["image_id"], int) and isinstance(r["category_id"], int)
        assert len(r["bbox"]) == 4 and all(isinstance(v, (int, float)) for v in r["bbox"])
        if "segmentation" in r:
            h, w = r["segmentation"]["size"]
            mask = decode(from_string(r["segmentation"]["counts"]), h, w)
            entry.update(size=[h, w], bits=mask_to_bits(mask), area=int(mask.sum()))
        out.append(entry)
    with open(target, "w") as f:
        json.dump({"results": out}, f)


def main():
    command, source, target = sys.argv[1:4]
    {"encode": run_encode, "results": run_results}[command](source, target)


if __name__ == "__main__":
    main()
