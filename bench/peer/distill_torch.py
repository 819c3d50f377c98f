#!/usr/bin/env python3
"""PyTorch side of bench:parity: a BPR-MF student trained alone or with one distillation method, each
written from its paper, on exactly what distillrec's student gets (written by bench/parity.ts into --data):
the train interactions, the teacher's soft-label lists (observed, top-K in teacher order, sampled
unobserved items, with the teacher's logits) and the student's initial embeddings. The trained
embeddings go back as raw float32 files; distillrec evaluates both sides with the same protocol.

Methods (--method, one per run; --seeds runs each seed's initialisation):
  none      BPR alone
  rd        ranking distillation (Tang & Wang, KDD'18): the teacher's top-K as extra positives, hybrid
            weights = position weight exp(-r/lambda) x dynamic weight tanh(max(0, mu (rank_est - r))),
            the student's rank estimated from the list's sampled items, L1-normalised per user
  rrd       relaxed ranking distillation (Kang et al., CIKM'20): K interesting items drawn from the
            teacher's top slice with p ~ exp(-rank/T) (without replacement, kept in teacher order), M
            uninteresting drawn uniformly from the sampled slice; the Plackett-Luce likelihood of the
            interesting items' order, each above every uninteresting item
  listwise  KL(softmax(t/T) || softmax(s/T)) * T^2 over the whole candidate list
  de        distillation experts (Kang et al., CIKM'20): per side (users, items) E experts
            Linear(ds, (ds+dt)/2)-ReLU-Linear(dt) and a selection network softmax(Linear(dt, E)) on the
            teacher's embedding; Gumbel-softmax choice at a temperature annealed 1 -> 1e-10 over training;
            loss per sample, as DE-RRD's code weighs it beside a summed BPR loss: (sum over the batch's
            distinct users + 1/2 sum over its distinct positives + 1/2 over its distinct negatives of
            ||t - sum_e a_e expert_e(s)||^2) / the batch's samples
  ftd       full topology distillation (Kang et al., KDD'21): the batch's distinct users and positive
            items in one space, mean over every pair of (cos_t - cos_s)^2
  htd       hierarchical topology distillation: groups = argmax of the DE selection network on the
            teacher's embeddings (trained by the de term, --de-weight); entity-level topology over
            same-group pairs + group-level (prototype-to-entity) topology, prototypes held constant

Sampling (--sampling): "distillrec" (default) draws every epoch's negatives and sample order exactly as
distillrec's trainer does for the seed (distillrec_sampling.py), so that both sides see the same batches and
the student alone matches to float rounding; "own" draws them with NumPy.

As in distillrec, each user's list terms are taken once per epoch, in the batch holding the user's
anchor sample (its first interaction in the train file), summed over the batch's lists and divided by
its samples; the hard BPR term is the mean over the batch; optimiser: torch.optim.SparseAdam for the
embeddings (lazy Adam, as distillrec's), Adam for the experts.

Usage: /usr/bin/python3 bench/peer/distill_torch.py --data DIR --method rrd --seeds 0,1,2 [options]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from distillrec_sampling import Draws


def read(data, name, dtype, shape):
    return np.fromfile(os.path.join(data, name + ".bin"), dtype=dtype).reshape(shape)


def relaxed_ranking(interesting, uninteresting):
    # -sum_k [s_k - log(sum_{j>=k} e^{s_j} + sum_m e^{u_m})], mean over rows.
    tail = torch.logcumsumexp(interesting.flip(-1), dim=1).flip(-1)
    rest = torch.logsumexp(uninteresting, dim=1, keepdim=True)
    below = torch.logaddexp(tail, rest.expand_as(tail))
    return -(interesting - below).sum(1).mean()


def ranking_distillation(top, sampled, n_items, lam, mu):
    r = torch.arange(top.shape[1], dtype=torch.float32)
    position = torch.exp(-r / lam)
    position = position / position.sum()
    if mu <= 0:
        w = position.expand_as(top)
    else:
        with torch.no_grad():
            above = (sampled.unsqueeze(1) > top.unsqueeze(2)).sum(-1).float()
            estimated = torch.floor((n_items - 1) * above / sampled.shape[1])
            w = position * torch.tanh(torch.clamp(mu * (estimated - r), min=0))
            total = w.sum(1, keepdim=True)
            w = torch.where(total > 0, w / total.clamp(min=1e-30), torch.zeros_like(w))
    return -(F.logsigmoid(top) * w).sum() / top.shape[0]


def cosine(x, y):
    x = x / torch.sqrt((x * x).sum(1, keepdim=True) + 1e-12)
    y = y / torch.sqrt((y * y).sum(1, keepdim=True) + 1e-12)
    return x @ y.T


def hierarchical_topology(s, t, groups):
    same = groups.unsqueeze(0) == groups.unsqueeze(1)
    entity = ((cosine(t, t) - cosine(s, s))[same] ** 2).mean()
    present = groups.unique()
    Z = F.one_hot(groups).float()[:, present]
    with torch.no_grad():
        weights = (Z / Z.sum(0, keepdim=True)).T
        proto_s, proto_t = weights @ s, weights @ t
    group = ((cosine(proto_t, t) - cosine(proto_s, s)) ** 2).mean()
    return entity + group


class Experts(torch.nn.Module):
    def __init__(self, ds, dt, count):
        super().__init__()
        width = (ds + dt) // 2
        self.experts = torch.nn.ModuleList(
            [torch.nn.Sequential(torch.nn.Linear(ds, width), torch.nn.ReLU(), torch.nn.Linear(width, dt)) for _ in range(count)])
        self.selection = torch.nn.Linear(dt, count)

    def forward(self, s, t, temperature):
        if len(self.experts) == 1:
            mapped = self.experts[0](s)
        else:
            g = -torch.log(-torch.log(torch.rand(t.shape[0], len(self.experts)) + 1e-20) + 1e-20)
            choice = F.softmax((F.log_softmax(self.selection(t), dim=1) + g) / temperature, dim=1)
            mapped = sum(e(s) * choice[:, k:k + 1] for k, e in enumerate(self.experts))
        return ((t - mapped) ** 2).sum()


def train(a, meta, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_users, n_items, dim = meta["numUsers"], meta["numItems"], meta["dim"]
    P, K, N = meta["positives"], meta["topK"], meta["negatives"]
    L = P + K + N
    users = read(a.data, "users", np.int32, (-1,)).astype(np.int64)
    pos = read(a.data, "positives", np.int32, (-1,)).astype(np.int64)
    list_users = read(a.data, "label-users", np.int32, (-1,))
    list_items = torch.from_numpy(read(a.data, "label-items", np.int32, (-1, L)).astype(np.int64))
    teacher = torch.from_numpy(read(a.data, "label-scores", np.float32, (-1, L)))
    row_of_user = np.full(n_users, -1, dtype=np.int64)
    row_of_user[list_users] = np.arange(len(list_users))
    anchor = np.full(n_users, -1, dtype=np.int64)
    for s in range(len(users) - 1, -1, -1):
        anchor[users[s]] = pos[s]
    seen = [set() for _ in range(n_users)]
    for u, i in zip(users, pos):
        seen[u].add(int(i))

    user_w = torch.from_numpy(read(a.data, f"init-{seed}-user", np.float32, (-1, dim)).copy())
    item_w = torch.from_numpy(read(a.data, f"init-{seed}-item", np.float32, (-1, dim)).copy())
    U = torch.nn.Embedding.from_pretrained(user_w, freeze=False, sparse=True)
    I = torch.nn.Embedding.from_pretrained(item_w, freeze=False, sparse=True)
    opt = torch.optim.SparseAdam(list(U.parameters()) + list(I.parameters()), lr=a.lr)
    experts = None
    if a.method in ("de", "ftd", "htd"):
        teacher_u = torch.from_numpy(read(a.data, "teacher-user", np.float32, (n_users, -1)))
        teacher_i = torch.from_numpy(read(a.data, "teacher-item", np.float32, (n_items, -1)))
    if a.method in ("de", "htd"):
        experts = {"user": Experts(dim, teacher_u.shape[1], a.experts), "item": Experts(dim, teacher_i.shape[1], a.experts)}
        dense = torch.optim.Adam([p for e in experts.values() for p in e.parameters()], lr=a.lr)
    total_samples = a.epochs * len(users)
    samples_seen = 0
    rrd_probs = torch.exp(-torch.arange(K, dtype=torch.float32) / a.rrd_temperature)

    n = len(users)
    draws = Draws(seed, users, seen, n_items) if a.sampling == "distillrec" else None
    for _ in range(a.epochs):
        if draws is not None:
            perm, neg = draws.epoch()
        else:
            perm = rng.permutation(n)
            neg = rng.integers(0, n_items, n)
            for k in range(n):
                while int(neg[k]) in seen[users[k]]:
                    neg[k] = rng.integers(0, n_items)
        for start in range(0, n, a.batch):
            idx = perm[start:start + a.batch]
            bu, bp, bq = users[idx], pos[idx], neg[idx]
            eu = U(torch.from_numpy(bu))
            x = (eu * I(torch.from_numpy(bp))).sum(-1) - (eu * I(torch.from_numpy(bq))).sum(-1)
            loss = -F.logsigmoid(x).mean()
            if experts is not None:
                temperature = 1.0 * (1e-10 / 1.0) ** min(1.0, samples_seen / total_samples)
                samples_seen += len(idx)
                du, dp, dq = (torch.from_numpy(np.unique(b)) for b in (bu, bp, bq))
                de = (experts["user"](U(du), teacher_u[du], temperature)
                      + 0.5 * experts["item"](I(dp), teacher_i[dp], temperature)
                      + 0.5 * experts["item"](I(dq), teacher_i[dq], temperature)) / len(idx)
                loss = loss + (a.de_weight if a.method == "htd" else a.weight) * de
            if a.method in ("ftd", "htd"):
                du = torch.from_numpy(np.array(list(dict.fromkeys(bu.tolist())), dtype=np.int64))
                dp = torch.from_numpy(np.array(list(dict.fromkeys(bp.tolist())), dtype=np.int64))
                s = torch.cat([U(du), I(dp)], 0)
                t = torch.cat([teacher_u[du], teacher_i[dp]], 0)
                if a.method == "ftd":
                    loss = loss + a.weight * ((cosine(t, t) - cosine(s, s)) ** 2).mean()
                else:
                    with torch.no_grad():
                        groups = torch.cat([experts["user"].selection(teacher_u[du]).argmax(1),
                                            experts["item"].selection(teacher_i[dp]).argmax(1) + a.experts])
                    loss = loss + a.weight * hierarchical_topology(s, t, groups)
            if a.method not in ("none", "de", "ftd", "htd"):
                taken = [u for u, p in zip(bu, bp) if anchor[u] == p and row_of_user[u] >= 0]
                rows = list(dict.fromkeys(row_of_user[u] for u in taken))
                if rows:
                    rows_t = torch.tensor(rows)
                    items = list_items[rows_t]
                    lu = U(torch.from_numpy(list_users[rows].astype(np.int64)))
                    scores = (lu.unsqueeze(1) * I(items)).sum(-1)
                    term = list_term(a, scores, teacher[rows_t], P, K, N, n_items, rrd_probs)
                    loss = loss + a.weight * term * len(rows) / len(idx)
            opt.zero_grad()
            if experts is not None:
                dense.zero_grad()
            loss.backward()
            opt.step()
            if experts is not None:
                dense.step()
    return U.weight.detach().numpy(), I.weight.detach().numpy()


def list_term(a, scores, teacher, P, K, N, n_items, rrd_probs):
    R = scores.shape[0]
    if a.method == "listwise":
        T = a.temperature
        log_q = F.log_softmax(scores / T, dim=1)
        p = F.softmax(teacher / T, dim=1)
        return T * T * F.kl_div(log_q, p, reduction="batchmean")
    if a.method == "rd":
        return ranking_distillation(scores[:, P:P + a.rd_topk], scores[:, P + K:], n_items, a.rd_lambda, a.rd_mu)
    if a.method == "rrd":
        picks = torch.multinomial(rrd_probs.expand(R, K), a.rrd_interesting, replacement=False).sort(1).values
        interesting = scores[:, P:P + K].gather(1, picks)
        others = torch.rand(R, N).argsort(1)[:, :a.rrd_uninteresting]
        uninteresting = scores[:, P + K:].gather(1, others)
        return relaxed_ranking(interesting, uninteresting)
    raise ValueError(f"unknown method {a.method}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--method", required=True, choices=["none", "rd", "rrd", "listwise", "de", "ftd", "htd"])
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight", type=float, default=1.0, help="weight of the list term")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--rd-topk", type=int, default=10)
    ap.add_argument("--rd-lambda", type=float, default=10.0)
    ap.add_argument("--rd-mu", type=float, default=0.1)
    ap.add_argument("--rrd-interesting", type=int, default=10)
    ap.add_argument("--rrd-uninteresting", type=int, default=40)
    ap.add_argument("--rrd-temperature", type=float, default=10.0)
    ap.add_argument("--experts", type=int, default=5, help="experts per side (de, htd)")
    ap.add_argument("--de-weight", type=float, default=0.01, help="weight of htd's group assignment (de) term")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sampling", choices=["distillrec", "own"], default="distillrec",
                    help="each epoch's negatives and order: as distillrec draws them for the seed, or NumPy's")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.data, "meta.json")) as f:
        meta = json.load(f)
    out = {"peer": f"pytorch {torch.__version__} cpu, {a.threads} thread(s)", "method": a.method, "runs": []}
    for seed in [int(s) for s in a.seeds.split(",")]:
        t0 = time.perf_counter()
        user, item = train(a, meta, seed)
        prefix = os.path.join(a.data, f"torch-{a.method}-{seed}")
        user.astype(np.float32).tofile(prefix + "-user.bin")
        item.astype(np.float32).tofile(prefix + "-item.bin")
        out["runs"].append({"seed": seed, "seconds": time.perf_counter() - t0, "prefix": prefix})
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
