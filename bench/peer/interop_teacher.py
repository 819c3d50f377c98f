"""bench:interop's PyTorch side: train a BPR-MF teacher on the training interactions distillrec wrote,
export it with torch.onnx.export, and write the id map (the model's vocabulary) beside it.

usage: interop_teacher.py TRAIN_TSV VALID_TSV CATALOGUE_JSON OUT_DIR [--dim 64] [--epochs 40] [--lr 0.002] [--batch 1024]
       [--patience 5] [--seed 1] [--valid-lists LISTS_JSON]

TRAIN_TSV and VALID_TSV hold "user<TAB>item" lines (the data set's external ids); CATALOGUE_JSON is
{"users": [...], "items": [...]}, every id the model has a row for. The model's ids are its own: users and
items sorted by id, so the id map really maps. Early stopping on validation NDCG@10, the best epoch's
parameters kept: with LISTS_JSON ({"lists": [{"user": id, "items": [valid item, negatives...]}, ...]}, one list
per validation row) on those candidate lists, ranked as distillrec ranks them (those above the valid item plus
half of the ties, rounded down) — distillrec's own sampled validation, its lists included; without it over the
whole catalogue (train items masked). Prints one JSON object: what was trained and how long it took.
"""

import argparse
import json
import os
import time

import torch


class BPRMF(torch.nn.Module):
    def __init__(self, users: int, items: int, dim: int):
        super().__init__()
        # Sparse tables and SparseAdam: Adam's moments advance only on the rows a batch touches, as in
        # distillrec's optimiser (lazy Adam), so both engines train the same teacher.
        self.user = torch.nn.Embedding(users, dim, sparse=True)
        self.item = torch.nn.Embedding(items, dim, sparse=True)
        torch.nn.init.normal_(self.user.weight, std=0.1)
        torch.nn.init.normal_(self.item.weight, std=0.1)

    def forward(self, user_ids: torch.Tensor, item_ids: torch.Tensor) -> torch.Tensor:
        # One logit per (user, item) pair: what a distillrec ONNX teacher is asked for.
        return (self.user(user_ids) * self.item(item_ids)).sum(-1)


def read_pairs(path):
    with open(path) as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("train")
    p.add_argument("valid")
    p.add_argument("catalogue")
    p.add_argument("out")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--valid-lists", dest="valid_lists")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    # One thread: with more, OpenBLAS spins and, on a busy machine, an epoch takes minutes instead of a second.
    torch.set_num_threads(1)

    train = read_pairs(a.train)
    valid = read_pairs(a.valid)
    with open(a.catalogue) as f:
        catalogue = json.load(f)
    users = sorted(catalogue["users"])
    items = sorted(catalogue["items"])
    uix = {u: k for k, u in enumerate(users)}
    iix = {i: k for k, i in enumerate(items)}
    tu = torch.tensor([uix[u] for u, _ in train])
    ti = torch.tensor([iix[i] for _, i in train])
    seen = torch.zeros(len(users), len(items), dtype=torch.bool)
    seen[tu, ti] = True
    vu = torch.tensor([uix[u] for u, _ in valid])
    vi = torch.tensor([iix[i] for _, i in valid])
    lists_u = lists_c = None
    if a.valid_lists:
        with open(a.valid_lists) as f:
            lists = json.load(f)["lists"]
        lists_u = torch.tensor([uix[x["user"]] for x in lists])
        lists_c = torch.tensor([[iix[i] for i in x["items"]] for x in lists])

    def validate():
        if lists_c is not None:
            # distillrec's sampled protocol: candidate 0 is the valid item; rank = above + floor(ties / 2).
            scores = (model.user.weight[lists_u][:, None, :] * model.item.weight[lists_c]).sum(-1)
            pos = scores[:, :1]
            rest = scores[:, 1:]
            above = ((rest > pos) | torch.isnan(rest)).sum(1)
            ties = (rest == pos).sum(1)
            rank = above + torch.div(ties, 2, rounding_mode="floor")
            rank = torch.where(torch.isnan(pos[:, 0]), torch.full_like(rank, scores.shape[1] - 1), rank)
        else:
            scores = model.user.weight[vu] @ model.item.weight.T
            scores[seen[vu]] = -float("inf")
            target = scores[torch.arange(len(vu)), vi]
            rank = (scores > target[:, None]).sum(1)
        # NDCG@10 with one held-out item per case.
        return torch.where(rank < 10, 1.0 / torch.log2(rank.float() + 2), torch.zeros(())).mean().item()

    model = BPRMF(len(users), len(items), a.dim)
    opt = torch.optim.SparseAdam(list(model.parameters()), lr=a.lr)
    best, best_state, best_epoch, since, epochs = -1.0, None, 0, 0, 0
    start = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(tu))
        # Uniform negatives, redrawn until none is a train positive of its user.
        neg = torch.randint(len(items), (len(tu),))
        bad = seen[tu, neg]
        while bad.any():
            neg[bad] = torch.randint(len(items), (int(bad.sum()),))
            bad = seen[tu, neg]
        for s in range(0, len(perm), a.batch):
            b = perm[s : s + a.batch]
            u, pos, ng = tu[b], ti[b], neg[b]
            loss = -torch.nn.functional.logsigmoid(model(u, pos) - model(u, ng)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        epochs += 1
        model.eval()
        with torch.no_grad():
            ndcg = validate()
        if ndcg > best:
            best, best_epoch, since = ndcg, epochs, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            since += 1
            if since >= a.patience:
                break
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    model.eval()

    os.makedirs(a.out, exist_ok=True)
    onnx_path = os.path.join(a.out, "teacher.onnx")
    example = (torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long))
    torch.onnx.export(
        model,
        example,
        onnx_path,
        input_names=["user_ids", "item_ids"],
        output_names=["score"],
        dynamic_axes={"user_ids": {0: "pairs"}, "item_ids": {0: "pairs"}, "score": {0: "pairs"}},
        opset_version=13,
    )
    ids_path = os.path.join(a.out, "ids.json")
    with open(ids_path, "w") as f:
        json.dump({"users": users, "items": items}, f)
    # A few reference scores, for the bench to check the exported file against.
    with torch.no_grad():
        probe_u = torch.arange(min(5, len(users)))
        probe_i = torch.arange(min(5, len(items)))
        probe = model(probe_u, probe_i).tolist()
    print(
        json.dumps(
            {
                "peer": f"torch {torch.__version__}",
                "onnx": onnx_path,
                "idMap": ids_path,
                "users": len(users),
                "items": len(items),
                "dim": a.dim,
                "epochs": epochs,
                "bestEpoch": best_epoch,
                "validNDCG10": best,
                "validation": "sampled lists" if lists_c is not None else "full catalogue",
                "trainSeconds": seconds,
                "probe": {"users": [users[k] for k in probe_u.tolist()], "items": [items[k] for k in probe_i.tolist()], "scores": probe},
            }
        )
    )


if __name__ == "__main__":
    main()
