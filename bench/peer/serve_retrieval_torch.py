#!/usr/bin/env python3
"""PyTorch side of `npm run bench:serve-retrieval`: torch.topk(E @ q, k) over fp32 item vectors E [n, dim].

One query at a time, as a server answers them: warm-up queries first, then the latency of each query, at
every thread count asked for (1, and PyTorch's default). Timing does not depend on the values, so E and the
queries are standard normal. Prints one JSON object on stdout. Usage: serve_retrieval_torch.py --config
'<json>' (see bench/serve-retrieval.ts).
"""
import argparse
import json
import os
import sys
import time

import torch


def latencies(E, queries, k, warmup):
    for q in queries[:warmup]:
        torch.topk(E @ q, k)
    out = []
    for q in queries:
        t0 = time.perf_counter()
        torch.topk(E @ q, k)
        out.append((time.perf_counter() - t0) * 1e3)
    out.sort()
    return {"p50": out[len(out) // 2], "p99": out[min(len(out) - 1, int(len(out) * 0.99))]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    cfg = json.loads(ap.parse_args().config)
    default_threads = torch.get_num_threads()
    # 1 thread, PyTorch's default, and every core when the default uses fewer.
    settings = sorted({1, default_threads, os.cpu_count() or 1})
    g = torch.Generator().manual_seed(cfg["seed"])
    out = {
        "peer": f"pytorch {torch.__version__} cpu",
        "defaultThreads": default_threads,
        "threads": {},
    }
    for n in cfg["sizes"]:
        E = torch.randn(n, cfg["dim"], generator=g)
        queries = torch.randn(cfg["queries"], cfg["dim"], generator=g)
        for threads in settings:
            torch.set_num_threads(threads)
            out["threads"].setdefault(str(threads), {})[str(n)] = latencies(E, queries, cfg["k"], cfg["warmup"])
        del E
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
