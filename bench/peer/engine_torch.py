#!/usr/bin/env python3
"""PyTorch side of `npm run bench:engine`: the same models, batches and optimisers as bench/engine.ts.

BPR-MF and NeuMF trained with the BPR loss on uniformly drawn (user, positive, negative) triples,
sparse embeddings + SparseAdam (dense layers: Adam), 2 threads; plus matmul GFLOPS. Prints one JSON
object on stdout. Usage: python3 engine_torch.py --config '<json>' (see bench/engine.ts).
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn


class MF(nn.Module):
    def __init__(self, users, items, dim):
        super().__init__()
        self.u = nn.Embedding(users, dim, sparse=True)
        self.i = nn.Embedding(items, dim, sparse=True)
        nn.init.normal_(self.u.weight, std=0.1)
        nn.init.normal_(self.i.weight, std=0.1)

    def score(self, u, i):
        return (self.u(u) * self.i(i)).sum(-1)


class NeuMF(nn.Module):
    def __init__(self, users, items, gmf_dim, mlp_dims):
        super().__init__()
        half = mlp_dims[0] // 2
        self.ug = nn.Embedding(users, gmf_dim, sparse=True)
        self.ig = nn.Embedding(items, gmf_dim, sparse=True)
        self.um = nn.Embedding(users, half, sparse=True)
        self.im = nn.Embedding(items, half, sparse=True)
        for e in (self.ug, self.ig, self.um, self.im):
            nn.init.normal_(e.weight, std=0.1)
        layers = []
        for a, b in zip(mlp_dims[:-1], mlp_dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        self.out = nn.Linear(gmf_dim + mlp_dims[-1], 1)

    def score(self, u, i):
        g = self.ug(u) * self.ig(i)
        m = self.mlp(torch.cat([self.um(u), self.im(i)], -1))
        return self.out(torch.cat([g, m], -1)).squeeze(-1)


def train_rate(model, users, items, batch, seconds, lr):
    sparse = [p for n, p in model.named_parameters() if n.split(".")[0] in ("u", "i", "ug", "ig", "um", "im")]
    dense = [p for n, p in model.named_parameters() if n.split(".")[0] not in ("u", "i", "ug", "ig", "um", "im")]
    opts = [torch.optim.SparseAdam(sparse, lr=lr)]
    if dense:
        opts.append(torch.optim.Adam(dense, lr=lr))
    g = torch.Generator().manual_seed(0)
    pool = 64
    draws = [(torch.randint(0, users, (batch,), generator=g), torch.randint(0, items, (batch,), generator=g),
              torch.randint(0, items, (batch,), generator=g)) for _ in range(pool)]
    def step(k):
        u, p, q = draws[k % pool]
        for o in opts:
            o.zero_grad()
        loss = -torch.nn.functional.logsigmoid(model.score(u, p) - model.score(u, q)).mean()
        loss.backward()
        for o in opts:
            o.step()
    for k in range(5):
        step(k)
    samples, steps = 0, 0
    t0 = time.perf_counter()
    while True:
        step(steps)
        steps += 1
        samples += batch
        if steps % 8 == 0 and time.perf_counter() - t0 >= seconds:
            break
    return samples / (time.perf_counter() - t0)


def gflops(n, seconds):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    cfg = json.loads(ap.parse_args().config)
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    out = {"peer": f"pytorch {torch.__version__} cpu, {cfg['threads']} threads", "cases": {}}
    for case in cfg["cases"]:
        if case["model"] == "mf":
            model = MF(cfg["users"], cfg["items"], case["dim"])
        else:
            model = NeuMF(cfg["users"], cfg["items"], case["gmfDim"], case["mlpDims"])
        out["cases"][case["name"]] = train_rate(model, cfg["users"], cfg["items"], case["batch"], cfg["seconds"], cfg["lr"])
    out["matmul_gflops"] = {str(n): gflops(n, cfg["seconds"] / 2) for n in cfg["matmulSizes"]}
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
