"""Independent reader of a COCO instances file for coco_annotations_test.cpp.

Usage: coco_reference.py INSTANCES.json OUT.json

Loads the file with the json module and writes, per image id, the non-crowd
and crowd annotation counts per category id (what pycocotools' COCO() indexes):
{"images": [id, ...] (file order), "categories": [id, ...] (ascending),
 "annotations": N, "crowd": N, "counts": {"<image id>": {"objects": {"<category id>": n},
 "crowd": {...}}}}. It also checks each segmentation against the box: a polygon
lists the box's corners, a crowd RLE covers h*w pixels with as many ones as the
rounded, clipped box.
"""
import json
import sys


def box_pixels(bbox, height, width):
    x0 = min(max(round(bbox[0]), 0), width)
    x1 = min(max(round(bbox[0] + bbox[2]), 0), width)
    y0 = min(max(round(bbox[1]), 0), height)
    y1 = min(max(round(bbox[1] + bbox[3]), 0), height)
    return max(x1 - x0, 0) * max(y1 - y0, 0)


def check_segmentation(annotation, image):
    segmentation = annotation["segmentation"]
    if annotation["iscrowd"]:
        counts = segmentation["counts"]
        assert segmentation["size"] == [image["height"], image["width"]], annotation
        assert sum(counts) == image["height"] * image["width"], annotation
        assert sum(counts[1::2]) == box_pixels(annotation["bbox"], image["height"], image["width"]), annotation
    else:
        x, y, w, h = annotation["bbox"]
        polygon = segmentation[0]
        assert len(segmentation) == 1 and len(polygon) == 8, annotation
        assert abs(polygon[0] - x) < 1e-3 and abs(polygon[1] - y) < 1e-3, annotation
        assert abs(polygon[4] - (x + w)) < 1e-3 and abs(polygon[5] - (y + h)) < 1e-3, annotation


def main():
    source, target = sys.argv[1], sys.argv[2]
    with open(source) as f:
        data = json.load(f)
    images = {image["id"]: image for image in data["images"]}
    counts = {str(image_id): {"objects": {}, "crowd": {}} for image_id in images}
    crowd = 0
    for annotation in data["annotations"]:
        kind = "crowd" if annotation["iscrowd"] else "objects"
        crowd += 1 if annotation["iscrowd"] else 0
        per_category = counts[str(annotation["image_id"])][kind]
        key = str(annotation["category_id"])
        per_category[key] = per_category.get(key, 0) + 1
        check_segmentation(annotation, images[annotation["image_id"]])
    result = {
        "images": [image["id"] for image in data["images"]],
        "categories": sorted(category["id"] for category in data["categories"]),
        "annotations": len(data["annotations"]),
        "crowd": crowd,
        "counts": counts,
    }
    with open(target, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
