"""The peer of bench/serve_load.py: the query service as Python users write
it. FastAPI (served by uvicorn) + a torchvision ResNet with the same weights
and preprocessing + a FAISS flat inner-product index over the same vectors.
    /usr/bin/python3 bench/serve_load_peer.py EMBEDDING_FOLDER PORT RESNET18_WEIGHTS.pth"""
import io
import json
import sys

import faiss
import numpy as np
import torch
import torchvision
import uvicorn
from fastapi import FastAPI, Request
from PIL import Image
from starlette.concurrency import run_in_threadpool

folder, port, weights = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(2)
network = torchvision.models.resnet18()
network.load_state_dict(torch.load(weights))
network.fc = torch.nn.Identity()
network.eval()
preprocess = torchvision.transforms.Compose([
    torchvision.transforms.Resize(256), torchvision.transforms.CenterCrop(224), torchvision.transforms.ToTensor(),
    torchvision.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
vectors = np.load(f"{folder}/embeddings.npy").astype(np.float32)
faiss.normalize_L2(vectors)
index = faiss.IndexFlatIP(vectors.shape[1])
index.add(vectors)
items = [json.loads(line) for line in open(f"{folder}/items.jsonl")]
app = FastAPI()


def results(query, k):
    faiss.normalize_L2(query)
    scores, ids = index.search(query, k)
    return {"results": [{"rank": r + 1, "id": int(i), "score": float(s), "label": items[i]["label"],
                         "class": items[i]["class"], "path": items[i]["source"]}
                        for r, (i, s) in enumerate(zip(ids[0], scores[0]))]}


@app.get("/api/health")
def health():
    return {"status": "ok"}


@app.post("/api/search")
async def search_raw(request: Request, k: int = 10):
    # The model and the search run in the thread pool, as FastAPI users do for blocking work.
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        query = np.asarray([json.loads(body)["embedding"]], dtype=np.float32)
        return await run_in_threadpool(results, query, k)

    def embed_image():
        image = Image.open(io.BytesIO(body)).convert("RGB")
        with torch.no_grad():
            return results(network(preprocess(image).unsqueeze(0)).numpy(), k)
    return await run_in_threadpool(embed_image)


uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
