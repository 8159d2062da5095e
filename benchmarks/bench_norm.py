"""Normalisation: pyneural's batch_norm / layer_norm vs the NumPy expression vs PyTorch, same run.

    python benchmarks/bench_norm.py [--dtype float64] [--variant avx2] [--threads 1] [--quick]

Forward rows time the kernels on NumPy arrays (``pn.kernels``); forward+backward rows time the
autograd ops (``F.batch_norm`` / ``F.layer_norm`` and ``backward``) against PyTorch's autograd and a
hand-written NumPy forward+backward. GB/s counts the least traffic the operation needs (forward: read
x, write out; forward+backward: also read the output gradient and write the input gradient), so it is
comparable with the copy bandwidth measured in the same run.
"""
from __future__ import annotations

import common

BATCH = [(32, 64, 32, 32), (64, 128, 16, 16), (128, 256, 8, 8), (256, 512), (1024, 128)]
LAYER = [(4096, 768), (512, 4096), (8192, 128), (64, 197, 384)]


def numpy_batch_norm(np, x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(axes)
    var = x.var(axes)
    scale = (w / np.sqrt(var + eps)).reshape(shape)
    return x * scale + (b - mean * scale.reshape(-1)).reshape(shape), mean, var


def numpy_batch_norm_train_step(np, x, w, b, g, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    out, mean, var = numpy_batch_norm(np, x, w, b, eps)
    inv = (1 / np.sqrt(var + eps)).reshape(shape)
    xhat = (x - mean.reshape(shape)) * inv
    gb = g.sum(axes)
    gw = (g * xhat).sum(axes)
    count = x.size // x.shape[1]
    gx = (w.reshape(shape) * inv / count) * (count * g - gb.reshape(shape) - xhat * gw.reshape(shape))
    return out, gx, gw, gb


def numpy_layer_norm(np, x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    inv = 1 / np.sqrt(x.var(-1, keepdims=True) + eps)
    return (x - mean) * inv * w + b, mean, inv


def numpy_layer_norm_train_step(np, x, w, b, g, eps=1e-5):
    out, mean, inv = numpy_layer_norm(np, x, w, b, eps)
    xhat = (x - mean) * inv
    lead = tuple(range(x.ndim - 1))
    gxh = g * w
    gx = inv * (gxh - gxh.mean(-1, keepdims=True) - xhat * (gxh * xhat).mean(-1, keepdims=True))
    return out, gx, (g * xhat).sum(lead), g.sum(lead)


def main() -> None:
    args = common.parse_args(__doc__, lambda p: (p.add_argument("--dtype", default="float32",
                                                                choices=["float32", "float64"]),
                                                 p.add_argument("--quick", action="store_true")))
    import numpy as np
    import pyneural as pn

    F = pn.nn.functional
    torch = common.load_torch(args)
    info = common.machine(args, args.dtype)
    print(common.header(info, args.dtype))
    rng = np.random.default_rng(0)
    copy_gbs = common.copy_bandwidth(args.dtype, args.min_time)
    print(f"copy bandwidth (NumPy, 16M elements): {copy_gbs:.1f} GB/s")

    cases = [("batch_norm", s) for s in BATCH] + [("layer_norm", s) for s in LAYER]
    if args.quick:
        cases = cases[::2]
    rows, table = [], []
    for op, shape in cases:
        x = rng.standard_normal(shape).astype(args.dtype)
        g = rng.standard_normal(shape).astype(args.dtype)
        features = shape[1] if op == "batch_norm" else shape[-1]
        w = rng.standard_normal(features).astype(args.dtype)
        b = rng.standard_normal(features).astype(args.dtype)
        px, pw, pb, pg = pn.tensor(x, requires_grad=True), pn.tensor(w, requires_grad=True), \
            pn.tensor(b, requires_grad=True), pn.tensor(g)
        if op == "batch_norm":
            rm, rv = np.zeros(features, args.dtype), np.ones(features, args.dtype)
            forward = {"pyneural": lambda: pn.kernels.batch_norm(x, rm, rv, w, b, training=True),
                       "numpy": lambda: numpy_batch_norm(np, x, w, b)}
            step = {"pyneural": lambda: F.batch_norm(px, rm, rv, pw, pb, training=True).backward(pg),
                    "numpy": lambda: numpy_batch_norm_train_step(np, x, w, b, g)}
        else:
            forward = {"pyneural": lambda: pn.kernels.layer_norm(x, features, w, b),
                       "numpy": lambda: numpy_layer_norm(np, x, w, b)}
            step = {"pyneural": lambda: F.layer_norm(px, features, pw, pb).backward(pg),
                    "numpy": lambda: numpy_layer_norm_train_step(np, x, w, b, g)}
        if torch is not None:
            tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, g))
            txg, twg, tbg = (t.clone().requires_grad_() for t in (tx, tw, tb))
            if op == "batch_norm":
                trm, trv = torch.zeros(features, dtype=tx.dtype), torch.ones(features, dtype=tx.dtype)
                forward["torch"] = lambda: torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True)
                step["torch"] = lambda: torch.nn.functional.batch_norm(txg, trm, trv, twg, tbg,
                                                                       training=True).backward(tg)
            else:
                forward["torch"] = lambda: torch.nn.functional.layer_norm(tx, (features,), tw, tb)
                step["torch"] = lambda: torch.nn.functional.layer_norm(txg, (features,), twg, tbg).backward(tg)
        for kind, fns, traffic in (("forward", forward, 2), ("fwd+bwd", step, 4)):
            t = common.time_calls(fns, args.min_time)
            gbs = {name: traffic * x.nbytes / sec * 1e-9 for name, sec in t.items()}
            row = {"op": op, "shape": list(shape), "pass": kind, "seconds": t, "gbs": gbs,
                   "pct_copy": 100 * gbs["pyneural"] / copy_gbs, "vs_numpy": t["numpy"] / t["pyneural"]}
            if torch is not None:
                row["vs_torch"] = t["torch"] / t["pyneural"]
            rows.append(row)
            table.append([op, "x".join(map(str, shape)), kind, f"{t['pyneural'] * 1e3:.3f}",
                          f"{gbs['pyneural']:.1f}", f"{row['pct_copy']:.0f}%", f"{t['numpy'] * 1e3:.3f}",
                          f"{row['vs_numpy']:.2f}", f"{t['torch'] * 1e3:.3f}" if torch else "-",
                          f"{row['vs_torch']:.2f}" if torch else "-"])
            px.grad = pw.grad = pb.grad = None
    common.print_table(["op", "shape", "pass", "pyneural ms", "GB/s", "% copy", "numpy ms", "x numpy",
                        "torch ms", "x torch"], table)
    info["copy_gbs"] = copy_gbs
    name = args.out or f"norm_{args.dtype}_{info['backend']}_{info['variant']}_{args.threads}t"

    def chart(path):
        common.bar_chart(path, [f"{r['op']} {'x'.join(map(str, r['shape']))} {r['pass']}" for r in rows],
                         {peer: [r["gbs"][peer] for r in rows] for peer in rows[0]["gbs"]},
                         (copy_gbs, "copy bandwidth"), "GB/s (least traffic)",
                         f"batch_norm / layer_norm {args.dtype}, {args.threads} threads, {info['cpu']}")

    print("wrote", common.save(name, info, rows, chart))


if __name__ == "__main__":
    main()
