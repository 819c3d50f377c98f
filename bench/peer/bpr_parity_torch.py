#!/usr/bin/env python3
"""PyTorch side of `npm run bench:parity` (BPR-MF): the reference implementations' way of training it.

BPR-MF as DE-RRD's code (CIKM'20) trains it: dense nn.Embedding tables (normal init, the config's
initStd; DE-RRD's is 0.01), the BPR loss summed over the batch, torch.optim.Adam(lr, weight_decay) on every parameter,
one uniformly drawn unseen negative per positive redrawn every epoch, validation NDCG@10 after every epoch
with early stopping, and the best epoch's test metrics. The split and every candidate list come from the
distillrec side (a JSON file), so both rank exactly the same lists.

Usage: python3 bpr_parity_torch.py --data split.json --config '<json>'; prints one JSON object on stdout.
"""
import argparse
import json
import math
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn


class MF(nn.Module):
    def __init__(self, users, items, dim, std, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.u = nn.Embedding(users, dim)
        self.i = nn.Embedding(items, dim)
        nn.init.normal_(self.u.weight, std=std)
        nn.init.normal_(self.i.weight, std=std)


def ndcg_hr(model, lists, k=10):
    with torch.no_grad():
        users = torch.tensor([l[0] for l in lists])
        cands = torch.tensor([l[1] for l in lists])
        scores = (model.u(users).unsqueeze(1) * model.i(cands)).sum(-1)
        pos = scores[:, :1]
        above = (scores[:, 1:] > pos).sum(1)
        ties = (scores[:, 1:] == pos).sum(1)
        rank = (above + ties // 2).numpy()
    ndcg = float(np.mean(np.where(rank < k, 1.0 / np.log2(rank + 2), 0.0)))
    hr = float(np.mean(rank < k))
    return ndcg, hr


def run(data, cfg):
    torch.set_num_threads(cfg.get("threads", 1))
    rng = random.Random(cfg["seed"])
    n_users, n_items = data["numUsers"], data["numItems"]
    users = np.array(data["train"]["users"], dtype=np.int64)
    items = np.array(data["train"]["items"], dtype=np.int64)
    seen = [set() for _ in range(n_users)]
    for u, i in zip(users.tolist(), items.tolist()):
        seen[u].add(i)
    valid = [(r["user"], r["candidates"]) for r in data["valid"]]
    test = [(r["user"], r["candidates"]) for r in data["test"]]
    model = MF(n_users, n_items, cfg["dim"], cfg["initStd"], cfg["seed"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weightDecay"])
    n = len(users)
    best = (-1.0, 0, None)
    history = []
    train_seconds = 0.0
    for epoch in range(1, cfg["epochs"] + 1):
        negatives = np.empty(n, dtype=np.int64)
        for k, u in enumerate(users.tolist()):
            j = rng.randrange(n_items)
            while j in seen[u]:
                j = rng.randrange(n_items)
            negatives[k] = j
        order = np.random.default_rng(cfg["seed"] + epoch).permutation(n)
        started = time.perf_counter()
        total = 0.0
        for start in range(0, n, cfg["batchSize"]):
            idx = order[start : start + cfg["batchSize"]]
            u = torch.from_numpy(users[idx])
            p = torch.from_numpy(items[idx])
            q = torch.from_numpy(negatives[idx])
            eu = model.u(u)
            x = (eu * model.i(p)).sum(-1) - (eu * model.i(q)).sum(-1)
            loss = -torch.nn.functional.logsigmoid(x).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss)
        train_seconds += time.perf_counter() - started
        ndcg, hr = ndcg_hr(model, valid)
        history.append({"epoch": epoch, "loss": total / n, "NDCG@10": ndcg})
        if ndcg > best[0]:
            best = (ndcg, epoch, ndcg_hr(model, test))
        elif epoch - best[1] >= cfg["patience"]:
            break
    test_ndcg, test_hr = best[2]
    return {
        "validNDCG@10": best[0],
        "bestEpoch": best[1],
        "epochs": len(history),
        "NDCG@10": test_ndcg,
        "HR@10": test_hr,
        "trainSecondsPerEpoch": train_seconds / len(history),
        "finalLoss": history[-1]["loss"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--config", required=True)
    args = ap.parse_args()
    with open(args.data) as f:
        data = json.load(f)
    cfg = json.loads(args.config)
    out = {"peer": f"pytorch {torch.__version__} cpu", "runs": [run(data, {**cfg, **r}) for r in cfg["runs"]]}
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
