#!/usr/bin/env python3
"""PyTorch side of the SASRec benchmark: self-attentive sequential recommendation (Kang & McAuley, ICDM'18),
written from the paper, with the choices of pmixer/SASRec.pytorch where the paper leaves one open (xavier-normal
weights, Adam betas (0.9, 0.98), dropout 0.2, LayerNorm eps 1e-8), exactly as distillrec's TypeScript SASRec
implements it, so that both sides train the same model on the same files:

  - items 0..n-1; item table E [n, d] and position table P [L, d], xavier-normal; padding on the left, a padded
    position's input is the zero vector (E has no padding row);
  - input at t: E[item_t] * sqrt(d) + P[t], dropout, times the timeline mask (0 at padding);
  - `--blocks` pre-LN blocks: x = x + Dropout(MHA(LN1(x))); x = x + FFN(LN2(x)); x = x * mask, where MHA takes Q, K
    and V from LN1(x) (causal and key-padding masks, dropout on the attention weights, output projection) and
    FFN = Dropout(W2 Dropout(act(W1 x + b1)) + b2); a final LayerNorm; score(t, i) = <state_t, E[i]> (shared table);
  - training: one sequence per user per epoch (its last L+1 training items), users in a random order, batches of
    `--batch`; loss "bce" (the paper's: one uniformly drawn training-unseen negative per position) or "softmax"
    (sampled softmax over `--negatives` uniform catalogue negatives shared by the batch);
  - Adam (lr, betas (0.9, 0.98), eps 1e-8, no weight decay) with dense gradients;
  - evaluation of the last position's state over the last L history items: sampled (the target among the
    candidates file's negatives) and full ranking (against every item not in the history), NDCG@10 and HR@10;
    early stopping on validation NDCG@10 (sampled), the best epoch's parameters for the test.

Files (users and items are already indices 0..n-1): --train "user<TAB>item" rows, each user's in time order;
--valid/--test one "user<TAB>item" row per user; --candidates (test) and --valid-candidates "user<TAB>i1,i2,...".

Usage: /usr/bin/python3 bench/peer/sasrec_torch.py --train T --valid V --test S --candidates C --items N --users U
       [--loss bce|softmax] [--throughput-only K] [options]; prints one JSON object on stdout, progress on stderr.
"""
import argparse
import ctypes
import json
import math
import os
import sys
import time

# torch's OpenMP pool and OpenBLAS's pthread pool are two pools on the same cores; with OpenMP's default (active)
# wait its idle threads spin while OpenBLAS works, and with --threads 2 on a 2-core machine that carries other load
# a training step measured 5-10x slower than with one thread. Passive waiting (set before torch loads libgomp; the
# caller's environment wins) removed the collapse in our measurements and leaves the 1-thread rate unchanged.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# SASRec's LayerNorm epsilon (kang205/SASRec and pmixer/SASRec.pytorch both use 1e-8).
LN_EPS = 1e-8


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def openblas_threads(threads):
    """Pin OpenBLAS's own thread pool to `threads`: torch.set_num_threads sets torch's intra-op pool only, and
    Debian's torch calls the system BLAS (libblas.so.3 -> OpenBLAS pthread), whose pool defaults to every core, so a
    "1 thread" run would still multiply on all of them (and a 2-thread run oversubscribe them). Returns OpenBLAS's
    thread count after the call, or None when the process has not loaded OpenBLAS."""
    torch.randn(8, 8) @ torch.randn(8, 8)  # make sure the BLAS is loaded
    with open("/proc/self/maps") as f:
        libs = sorted({l.split()[-1] for l in f if "libopenblas" in l.lower() and "/" in l})
    if not libs:
        return None
    lib = ctypes.CDLL(libs[0])
    lib.openblas_set_num_threads(threads)
    return lib.openblas_get_num_threads()


def torch_blas(blas_threads):
    """Which BLAS torch uses: bench/common.ts's torchBlas probe (the BLAS libraries mapped into the process after a
    matmul, and a 1024x1024 f32 matmul's rate), run in this process at the run's thread count (torch's and
    OpenBLAS's)."""
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    a @ b
    n = 10
    t = time.perf_counter()
    for _ in range(n):
        a @ b
    s = (time.perf_counter() - t) / n
    with open("/proc/self/maps") as f:
        libs = sorted({l.split()[-1] for l in f if "blas" in l.lower() and "/" in l})
    gflops = 2 * 1024**3 / s / 1e9
    names = ", ".join("/".join(l.split("/")[-2:]) for l in libs) or "none found"
    line = (f"PyTorch BLAS: {names}; 1024² f32 matmul {gflops:.0f} GFLOPS (torch threads {torch.get_num_threads()}, "
            f"OpenBLAS threads {blas_threads})")
    log(line)
    # The reference BLAS gives ~6 GFLOPS, OpenBLAS 100+ on an idle machine (less on a busy one).
    if gflops < 15:
        log("WARNING: PyTorch runs on a slow BLAS (apt-get install -y libopenblas0-pthread): "
            "its times are not its best")
    return {"libraries": libs, "gflops": gflops, "openblasThreads": blas_threads, "line": line}


def xavier(*shape):
    # pmixer initialises every weight matrix with xavier_normal_ (std = sqrt(2 / (fan_in + fan_out))).
    w = torch.empty(*shape)
    torch.nn.init.xavier_normal_(w)
    return torch.nn.Parameter(w)


class LayerNorm(torch.nn.Module):
    # gamma 1, beta 0, eps 1e-8 (SASRec's).
    def __init__(self, d):
        super().__init__()
        self.gamma = torch.nn.Parameter(torch.ones(d))
        self.beta = torch.nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.gamma, self.beta, LN_EPS)


class Linear(torch.nn.Module):
    # y = x W^T + b; W [out, in] xavier-normal, b 0.
    def __init__(self, d_in, d_out):
        super().__init__()
        self.w = xavier(d_out, d_in)
        self.b = torch.nn.Parameter(torch.zeros(d_out))

    def forward(self, x):
        return F.linear(x, self.w, self.b)


class Block(torch.nn.Module):
    def __init__(self, d, heads, ffn, activation, dropout):
        super().__init__()
        assert d % heads == 0, "--heads must divide --dim"
        self.d, self.h, self.p, self.activation = d, heads, dropout, activation
        self.ln1 = LayerNorm(d)
        # Separate Wq, Wk, Wv (each [d, d], each xavier-normal), Wo [d, d]; the heads split the width.
        self.q, self.k, self.v, self.o = Linear(d, d), Linear(d, d), Linear(d, d), Linear(d, d)
        self.ln2 = LayerNorm(d)
        # Point-wise FFN: W1 [f, d], W2 [d, f] (SASRec's 1x1 convolutions are d -> d: f = d by default).
        self.w1, self.w2 = Linear(d, ffn), Linear(ffn, d)

    def attention(self, y, mask, causal):
        B, L, d = y.shape
        h, dh = self.h, d // self.h
        q = self.q(y).view(B, L, h, dh).transpose(1, 2)  # [B, h, L, dh]
        k = self.k(y).view(B, L, h, dh).transpose(1, 2)
        v = self.v(y).view(B, L, h, dh).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)  # QK^T / sqrt(d/h)
        # Causal mask and key-padding mask: a disallowed key gets -inf. With left padding a query row has no
        # allowed key exactly when the query itself is padded; such a row "attends nothing": its softmax is taken
        # over an unmasked row (finite, so no NaN reaches the gradients) and then its weights are zeroed, so its
        # context is 0; its output is zeroed after the projection too (the block's mask removes it anyway, so
        # nothing a padded row computes reaches a valid row or the loss).
        query = mask[:, None, :, None]  # [B, 1, L, 1]
        allowed = causal[None, None] & mask[:, None, None, :]  # [B, 1, L, L]
        scores = scores.masked_fill(~(allowed | ~query), float("-inf"))
        weights = torch.softmax(scores, dim=-1) * query
        weights = F.dropout(weights, self.p, self.training)  # dropout on the attention weights
        ctx = (weights @ v).transpose(1, 2).reshape(B, L, d)
        return self.o(ctx) * mask[..., None]

    def forward(self, x, mask, causal):
        # Pre-LN: x = x + Dropout(MHA(LN1(x))); x = x + FFN(LN2(x)); x = x * mask.
        x = x + F.dropout(self.attention(self.ln1(x), mask, causal), self.p, self.training)
        y = self.w1(self.ln2(x))
        # ReLU by default; gelu is the tanh approximation.
        y = F.relu(y) if self.activation == "relu" else F.gelu(y, approximate="tanh")
        y = F.dropout(self.w2(F.dropout(y, self.p, self.training)), self.p, self.training)
        return (x + y) * mask[..., None]


class SASRec(torch.nn.Module):
    def __init__(self, items, d, maxlen, blocks, heads, ffn, activation, dropout):
        super().__init__()
        self.d, self.p = d, dropout
        self.E = xavier(items, d)  # item table [n, d], shared by input and output, no padding row
        self.P = xavier(maxlen, d)  # position table [L, d]
        self.blocks = torch.nn.ModuleList([Block(d, heads, ffn, activation, dropout) for _ in range(blocks)])
        self.final = LayerNorm(d)  # the LayerNorm after the last block
        self.register_buffer("causal", torch.tril(torch.ones(maxlen, maxlen, dtype=torch.bool)))

    def forward(self, seq):
        """seq [B, L] item indices, -1 at (left) padding -> states [B, L, d]."""
        mask = seq >= 0
        m = mask[..., None].to(self.E.dtype)
        # E[item_t] * sqrt(d) + P[t], dropout, times the timeline mask (a padded position's input is 0). t is the slot
        # in the left-padded window, so the most recent item is always at P[L-1].
        x = self.E[seq.clamp(min=0)] * math.sqrt(self.d) + self.P[None, : seq.shape[1]]
        x = F.dropout(x, self.p, self.training) * m
        for block in self.blocks:
            x = block(x, mask, self.causal)
        return self.final(x)


def read_pairs(path):
    with open(path) as f:
        return [(int(u), int(i)) for u, i in (line.rstrip("\n").split("\t")[:2] for line in f if line.strip())]


def read_candidates(path):
    out = {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            u, items = line.rstrip("\n").split("\t")[:2]
            out[int(u)] = [int(i) for i in items.split(",") if i]
    return out


def left_pad(items, L):
    """The last L items, left-padded with -1 to length L."""
    items = items[-L:]
    return [-1] * (L - len(items)) + items


class Trainer:
    def __init__(self, a, train_seqs, rng):
        self.a, self.rng, self.L = a, rng, a.maxlen
        # One sequence per user: its last L+1 training items; inputs items[:-1], targets items[1:], left-padded.
        # (A user with fewer than 2 training items has no target, so no sequence.)
        self.users = [u for u in range(a.users) if len(train_seqs[u]) >= 2]
        self.inputs = np.array([left_pad(train_seqs[u][-(self.L + 1) : -1], self.L) for u in self.users], np.int64)
        self.targets = np.array([left_pad(train_seqs[u][-self.L :], self.L) for u in self.users], np.int64)
        self.seen = [np.array(sorted(set(train_seqs[u])), np.int64) for u in self.users]

    def negatives(self, rows):
        """bce: one negative per non-padded position, uniform over the items the user has not interacted with in
        training (redrawn until unseen); softmax: --negatives uniform catalogue items shared by the batch."""
        a = self.a
        if a.loss == "softmax":
            return torch.from_numpy(self.rng.integers(0, a.items, a.negatives))
        out = np.full((len(rows), self.L), -1, np.int64)
        for r, row in enumerate(rows):
            valid = self.targets[row] >= 0
            draw = self.rng.integers(0, a.items, int(valid.sum()))
            bad = np.isin(draw, self.seen[row])
            while bad.any():
                draw[bad] = self.rng.integers(0, a.items, int(bad.sum()))
                bad = np.isin(draw, self.seen[row])
            out[r, valid] = draw
        return torch.from_numpy(out)

    def batches(self):
        """One epoch: every user once, in a random order, batches of --batch."""
        order = self.rng.permutation(len(self.users))
        for s in range(0, len(order), self.a.batch):
            rows = order[s : s + self.a.batch]
            yield torch.from_numpy(self.inputs[rows]), torch.from_numpy(self.targets[rows]), self.negatives(rows)


def step(model, opt, loss_kind, seq, tgt, neg):
    h = model(seq)  # [B, L, d]
    valid = tgt >= 0
    pos = (h * model.E[tgt.clamp(min=0)]).sum(-1)  # s+ [B, L]
    if loss_kind == "bce":
        # Paper's loss: -log sigma(s+) - log sigma(-s-), mean over the valid positions.
        s_neg = (h * model.E[neg.clamp(min=0)]).sum(-1)
        per = -F.logsigmoid(pos) - F.logsigmoid(-s_neg)
    else:
        # Sampled softmax: cross-entropy over [s+, s-_1..s-_N], the batch's N negatives shared by every position.
        logits = torch.cat([pos[..., None], h @ model.E[neg].T], dim=-1)
        per = torch.logsumexp(logits, dim=-1) - pos
    loss = per[valid].mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss)


@torch.no_grad()
def evaluate(model, histories, targets, candidates, L, k=10):
    """User state = the last position's state over the last L history items. Rank = the number of items scoring
    strictly higher than the target (sampled: among the candidates; full: among every item not in the history)."""
    model.eval()
    users = sorted(targets)
    seq = torch.tensor([left_pad(histories[u], L) for u in users], dtype=torch.int64)
    states = torch.cat([model(seq[s : s + 1024])[:, -1] for s in range(0, len(users), 1024)])
    scores = states @ model.E.T  # [U, n]
    tgt = torch.tensor([targets[u] for u in users])
    t_score = scores.gather(1, tgt[:, None])
    cand = torch.tensor([candidates[u] for u in users])
    sampled = (scores.gather(1, cand) > t_score).sum(1)
    hist = torch.zeros_like(scores, dtype=torch.bool)
    for r, u in enumerate(users):
        hist[r, histories[u]] = True
    hist[torch.arange(len(users)), tgt] = False  # the target itself is never excluded
    full = ((scores > t_score) & ~hist).sum(1)
    model.train()

    def metrics(rank):
        hit = rank < k
        ndcg = torch.where(hit, 1.0 / torch.log2(rank.double() + 2), torch.zeros((), dtype=torch.float64))
        return float(ndcg.mean()), float(hit.double().mean())

    (sn, sh), (fn, fh) = metrics(sampled), metrics(full)
    return {"NDCG@10": sn, "HR@10": sh, "full:NDCG@10": fn, "full:HR@10": fh}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--valid")
    ap.add_argument("--test")
    ap.add_argument("--candidates", help="the test's sampled negatives")
    ap.add_argument("--valid-candidates", help="validation's (default: 100 uniform unseen negatives per user)")
    ap.add_argument("--items", type=int, required=True)
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--maxlen", type=int, default=50)
    ap.add_argument("--ffn", type=int, default=None, help="FFN width (default: --dim)")
    ap.add_argument("--activation", choices=["relu", "gelu"], default="relu")
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--patience", type=int, default=3, help="in evaluations")
    ap.add_argument("--loss", choices=["bce", "softmax"], default="bce")
    ap.add_argument("--negatives", type=int, default=100, help="sampled softmax's negatives per batch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--throughput-only", type=int, default=0, metavar="K")
    a = ap.parse_args()
    a.ffn = a.ffn or a.dim
    if not a.throughput_only and not (a.valid and a.test and a.candidates):
        ap.error("--valid, --test and --candidates are needed unless --throughput-only")

    torch.set_num_threads(a.threads)
    blas = torch_blas(openblas_threads(a.threads))
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    train_seqs = [[] for _ in range(a.users)]
    for u, i in read_pairs(a.train):
        train_seqs[u].append(i)
    model = SASRec(a.items, a.dim, a.maxlen, a.blocks, a.heads, a.ffn, a.activation, a.dropout)
    model.train()
    parameters = sum(p.numel() for p in model.parameters())
    # pmixer's optimiser: Adam, betas (0.9, 0.98), eps 1e-8, no weight decay; dense gradients on every table.
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.0)
    trainer = Trainer(a, train_seqs, rng)
    files = ("train", "valid", "test", "candidates", "valid_candidates")
    settings = {k: v for k, v in vars(a).items() if k not in files}
    settings["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY")
    settings["optimizer"] = "torch.optim.Adam(betas=(0.9, 0.98), eps=1e-8), dense gradients, no weight decay"
    peer = f"torch {torch.__version__}"

    if a.throughput_only:
        # The training step only (forward, backward, Adam) over batches prepared beforehand: full batches of
        # --batch users (cycling over random orders), 5 warm-up steps, then K timed steps.
        prepared = []
        while len(prepared) < 5 + a.throughput_only:
            prepared += [b for b in trainer.batches() if b[0].shape[0] == a.batch]
        prepared = prepared[: 5 + a.throughput_only]
        for b in prepared[:5]:
            step(model, opt, a.loss, *b)
        t = time.perf_counter()
        for b in prepared[5:]:
            step(model, opt, a.loss, *b)
        seconds = time.perf_counter() - t
        pps = a.throughput_only * a.batch * a.maxlen / seconds
        log(f"throughput: {pps:.0f} positions/s ({a.threads} threads, {a.loss})")
        out = {"peer": peer, "blas": blas, "settings": settings, "parameters": parameters,
               "throughput": {"threads": a.threads, "steps": a.throughput_only, "seconds": seconds,
                              "positionsPerSecond": pps}}
        json.dump(out, sys.stdout)
        print()
        return

    valid = dict(read_pairs(a.valid))
    test = dict(read_pairs(a.test))
    test_cands = read_candidates(a.candidates)
    if a.valid_candidates:
        valid_cands = read_candidates(a.valid_candidates)
    else:
        # 100 negatives per user, uniform over the items the user never interacted with (train, valid or test).
        crng = np.random.default_rng(a.seed)
        valid_cands = {}
        for u in sorted(valid):
            seen = set(train_seqs[u]) | {valid[u], test.get(u, -1)}
            picked = []
            while len(picked) < 100:
                j = int(crng.integers(0, a.items))
                if j not in seen and j not in picked:
                    picked.append(j)
            valid_cands[u] = picked
    valid_hist = {u: train_seqs[u] for u in valid}  # validation: history = the train items
    test_hist = {u: train_seqs[u] + ([valid[u]] if u in valid else []) for u in test}  # test: train + valid

    best = {"NDCG@10": -1.0}
    best_epoch, best_state, since = 0, None, 0
    train_seconds, positions, epoch = 0.0, 0, 0
    history = []
    wall = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        # trainSeconds: the epochs' training (batch preparation, negatives, forward, backward, Adam); evaluation
        # excluded.
        t = time.perf_counter()
        total, n = 0.0, 0
        for b in trainer.batches():
            total += step(model, opt, a.loss, *b)
            positions += b[0].shape[0] * a.maxlen
            n += 1
        train_seconds += time.perf_counter() - t
        if epoch % a.eval_every and epoch != a.epochs:
            continue
        m = evaluate(model, valid_hist, valid, valid_cands, a.maxlen)
        history.append({"epoch": epoch, "loss": total / n, **m})
        log(f"epoch {epoch}: loss {total / n:.4f}, valid NDCG@10 {m['NDCG@10']:.4f} HR@10 {m['HR@10']:.4f} "
            f"full NDCG@10 {m['full:NDCG@10']:.4f} ({train_seconds:.1f} s)")
        if m["NDCG@10"] > best["NDCG@10"]:
            best, best_epoch, since = m, epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            since += 1
            if since >= a.patience:
                break
    model.load_state_dict(best_state)
    result = evaluate(model, test_hist, test, test_cands, a.maxlen)
    log(f"best epoch {best_epoch}: test NDCG@10 {result['NDCG@10']:.4f} HR@10 {result['HR@10']:.4f} "
        f"full NDCG@10 {result['full:NDCG@10']:.4f} HR@10 {result['full:HR@10']:.4f}")
    out = {
        "peer": peer,
        "blas": blas,
        "settings": settings,
        "epochs": epoch,
        "bestEpoch": best_epoch,
        "valid": best,
        "test": result,
        "trainSeconds": train_seconds,
        "wallSeconds": time.perf_counter() - wall,
        "positionsPerSecond": positions / train_seconds,
        "parameters": parameters,
        "history": history,
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
