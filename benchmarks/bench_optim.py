"""Optimizer updates: pyneural's fused kernels vs the same rule in NumPy vs PyTorch, same run.

    python benchmarks/bench_optim.py [--dtype float64] [--variant avx2] [--threads 1] [--quick]

Kernel rows time one update of a single buffer of n elements on NumPy arrays (``pn.kernels``) against
the rule written with in-place NumPy operations and against ``torch.optim`` on one parameter, both
its default (single-tensor) and, where it has one, its fused CPU implementation. GB/s counts the least
traffic of the update (every buffer read once, every updated buffer written once), comparable with
the copy bandwidth measured in the same run. Model rows time ``optimizer.step()`` over the parameters
of an MLP 784-256-128-10 (Python overhead included), as a training loop calls it.
"""
from __future__ import annotations

import common

SIZES = [10_000, 1_000_000, 16_000_000]

# name: (pn.optim / torch.optim class, options, buffers read+written per element, torch has fused)
CASES = {
    "SGD momentum": ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=1e-4), 5, True),
    "Adam": ("Adam", dict(lr=1e-3), 7, True),
    "AdamW": ("AdamW", dict(lr=1e-3, weight_decay=1e-2), 7, True),
    "RMSprop": ("RMSprop", dict(lr=1e-2), 5, False),
    "Adagrad": ("Adagrad", dict(lr=1e-2), 5, True),
}


def numpy_rule(np, name, p, g, state, step):
    """The update written as in-place NumPy operations (the NumPy user's best, no temporaries where it can)."""
    t = state["tmp"]
    if name == "SGD momentum":
        buf = state["buf"]
        np.multiply(p, 1e-4, out=t)
        t += g
        buf *= 0.9
        buf += t
        np.multiply(buf, 0.01, out=t)
        p -= t
    elif name in ("Adam", "AdamW"):
        m, v = state["m"], state["v"]
        if name == "AdamW":
            p *= 1 - 1e-3 * 1e-2
        m *= 0.9
        np.multiply(g, 0.1, out=t)
        m += t
        v *= 0.999
        np.multiply(g, g, out=t)
        t *= 0.001
        v += t
        np.sqrt(v, out=t)
        t /= np.sqrt(1 - 0.999 ** step)
        t += 1e-8
        np.divide(m, t, out=t)
        t *= 1e-3 / (1 - 0.9 ** step)
        p -= t
    elif name == "RMSprop":
        sq = state["sq"]
        sq *= 0.99
        np.multiply(g, g, out=t)
        t *= 0.01
        sq += t
        np.sqrt(sq, out=t)
        t += 1e-8
        np.divide(g, t, out=t)
        t *= 1e-2
        p -= t
    else:
        total = state["sum"]
        np.multiply(g, g, out=t)
        total += t
        np.sqrt(total, out=t)
        t += 1e-10
        np.divide(g, t, out=t)
        t *= 1e-2
        p -= t


def main() -> None:
    args = common.parse_args(__doc__, lambda p: (p.add_argument("--dtype", default="float32",
                                                                choices=["float32", "float64"]),
                                                 p.add_argument("--quick", action="store_true")))
    import numpy as np
    import pyneural as pn

    torch = common.load_torch(args)
    info = common.machine(args, args.dtype)
    print(common.header(info, args.dtype))
    rng = np.random.default_rng(0)
    copy_gbs = common.copy_bandwidth(args.dtype, args.min_time)
    print(f"copy bandwidth (NumPy, 16M elements): {copy_gbs:.1f} GB/s")

    sizes = SIZES[:2] if args.quick else SIZES
    rows, table = [], []
    for name, (cls, options, buffers, has_fused) in CASES.items():
        for n in sizes:
            value = rng.standard_normal(n).astype(args.dtype)
            grad = rng.standard_normal(n).astype(args.dtype) * 1e-2
            p = pn.tensor(value.copy(), requires_grad=True)
            p.grad = pn.tensor(grad)
            ours = getattr(pn.optim, cls)([p], **options)
            state = {k: np.zeros(n, args.dtype) for k in ("tmp", "buf", "m", "v", "sq", "sum")}
            numpy_param = value.copy()
            counter = {"step": 0}

            def numpy_step():
                counter["step"] += 1
                numpy_rule(np, name, numpy_param, grad, state, counter["step"])

            fns = {"pyneural": ours.step, "numpy": numpy_step}
            if torch is not None:
                for label, extra in (("torch", {}), ("torch fused", {"fused": True})):
                    if label == "torch fused" and not has_fused:
                        continue
                    q = torch.tensor(value, requires_grad=True)
                    q.grad = torch.tensor(grad)
                    fns[label] = getattr(torch.optim, cls)([q], **options, **extra).step
            t = common.time_calls(fns, args.min_time)
            bytes_moved = buffers * n * np.dtype(args.dtype).itemsize
            gbs = {peer: bytes_moved / sec * 1e-9 for peer, sec in t.items()}
            row = {"optimizer": name, "n": n, "seconds": t, "gbs": gbs, "pct_copy": 100 * gbs["pyneural"] / copy_gbs,
                   "vs_numpy": t["numpy"] / t["pyneural"]}
            for peer in ("torch", "torch fused"):
                if peer in t:
                    row[f"vs_{peer}"] = t[peer] / t["pyneural"]
            rows.append(row)
            table.append([name, n, f"{t['pyneural'] * 1e3:.3f}", f"{gbs['pyneural']:.1f}", f"{row['pct_copy']:.0f}%",
                          f"{row['vs_numpy']:.2f}", f"{row['vs_torch']:.2f}" if "vs_torch" in row else "-",
                          f"{row['vs_torch fused']:.2f}" if "vs_torch fused" in row else "-"])
    common.print_table(["optimizer", "n", "pyneural ms", "GB/s", "% copy", "x numpy", "x torch", "x torch fused"],
                       table)

    # optimizer.step() over a model's parameters, Python overhead included
    shapes = [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,)]
    model_table = []
    for name, (cls, options, _, _) in CASES.items():
        values = [rng.standard_normal(s).astype(args.dtype) for s in shapes]
        params = [pn.tensor(v.copy(), requires_grad=True) for v in values]
        for p in params:
            p.grad = pn.tensor(rng.standard_normal(p.shape).astype(args.dtype) * 1e-2)
        fns = {"pyneural": getattr(pn.optim, cls)(params, **options).step}
        if torch is not None:
            tparams = [torch.tensor(v, requires_grad=True) for v in values]
            for q, p in zip(tparams, params):
                q.grad = torch.tensor(p.grad.data)
            fns["torch"] = getattr(torch.optim, cls)(tparams, **options).step
        t = common.time_calls(fns, args.min_time)
        row = {"optimizer": name, "model": "MLP 784-256-128-10", "seconds": t}
        if torch is not None:
            row["vs_torch"] = t["torch"] / t["pyneural"]
        rows.append(row)
        model_table.append([name, f"{t['pyneural'] * 1e6:.0f}", f"{t['torch'] * 1e6:.0f}" if torch else "-",
                            f"{row['vs_torch']:.2f}" if torch else "-"])
    print("\noptimizer.step() over the parameters of an MLP 784-256-128-10 (235k parameters):")
    common.print_table(["optimizer", "pyneural us", "torch us", "x torch"], model_table)

    info["copy_gbs"] = copy_gbs
    out = args.out or f"optim_{args.dtype}_{info['backend']}_{info['variant']}_{args.threads}t"

    def chart(path):
        kernel_rows = [r for r in rows if "n" in r]
        peers = sorted({peer for r in kernel_rows for peer in r["gbs"]})
        common.bar_chart(path, [f"{r['optimizer']} n={r['n']:,}" for r in kernel_rows],
                         {peer: [r["gbs"].get(peer, 0) for r in kernel_rows] for peer in peers},
                         (copy_gbs, "copy bandwidth"), "GB/s (least traffic)",
                         f"optimizer updates {args.dtype}, {args.threads} threads, {info['cpu']}")

    print("wrote", common.save(out, info, rows, chart))


if __name__ == "__main__":
    main()
