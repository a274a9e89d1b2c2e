#!/usr/bin/python3
"""Peer of bench/coco_load.cpp: what pycocotools' COCO() does on load.

Usage: coco_load_peer.py INSTANCES.json. json.load of the whole file, then
the per-image index of annotations (pycocotools' imgToAnns) and the counts of
non-crowd and crowd annotations per image and category. Prints
"SECONDS CPU_SECONDS RSS_BEFORE_KB PEAK_RSS_KB IMAGES ANNOTATIONS CROWD": the
wall-clock and CPU (user + system) seconds of the load and indexing, the
resident memory before it (the interpreter) and the process's peak
(resource.getrusage, kilobytes on Linux).
"""
import json
import resource
import sys
import time
from collections import defaultdict


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    path = sys.argv[1]
    before = rss_kb()
    begin, cpu_begin = time.perf_counter(), cpu_seconds()
    with open(path) as f:
        data = json.load(f)
    images = {image["id"]: image for image in data["images"]}
    categories = {category["id"]: category for category in data["categories"]}
    image_to_annotations = defaultdict(list)
    objects = {image_id: defaultdict(int) for image_id in images}
    crowd = {image_id: defaultdict(int) for image_id in images}
    crowd_count = 0
    for annotation in data["annotations"]:
        image_to_annotations[annotation["image_id"]].append(annotation)
        assert annotation["category_id"] in categories
        if annotation["iscrowd"]:
            crowd[annotation["image_id"]][annotation["category_id"]] += 1
            crowd_count += 1
        else:
            objects[annotation["image_id"]][annotation["category_id"]] += 1
    seconds, cpu = time.perf_counter() - begin, cpu_seconds() - cpu_begin
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{seconds} {cpu} {before} {peak} {len(images)} {len(data['annotations'])} {crowd_count}")


if __name__ == "__main__":
    main()
