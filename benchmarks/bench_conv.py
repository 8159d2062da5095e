"""conv2d: pyneural vs a NumPy im2col + matmul equivalent vs PyTorch (oneDNN), forward and forward+backward.

    python benchmarks/bench_conv.py [--threads 1] [--dtype float64] [--variant avx2] [--quick]

Layers are (N, C, K, H, k) with H = W, 'same' padding k // 2, stride 1 unless given; GFLOP/s count the
multiply-adds of the convolution (2 N K OH OW C k^2 forward; three times that forward+backward).
"""
from __future__ import annotations

import math

import common

LAYERS = [  # (N, C, K, H, k, stride)
    (32, 3, 32, 32, 3, 1),
    (32, 32, 64, 16, 3, 1),
    (32, 64, 64, 32, 3, 1),
    (8, 128, 128, 16, 3, 1),
    (64, 1, 32, 28, 3, 1),
    (16, 64, 128, 28, 1, 1),
    (32, 64, 128, 32, 3, 2),   # stride 2
    (32, 32, 32, 32, 5, 1),    # 5x5
]


def numpy_conv(np, x, w, b, stride, pad):
    """im2col with sliding_window_view, then one matmul (what a NumPy user would write)."""
    n, c, h, _ = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    oh, ow = windows.shape[2:4]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    y = cols @ w.reshape(k, -1).T + b
    return y.reshape(n, oh, ow, k).transpose(0, 3, 1, 2), cols


def numpy_conv_backward(np, x, w, dy, cols, stride, pad):
    """dW = dY^T cols, dcols = dY W, then col2im as one strided slice-add per kernel tap."""
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    oh, ow = dy.shape[2:]
    dy_mat = dy.transpose(0, 2, 3, 1).reshape(-1, k)
    dw = (dy_mat.T @ cols).reshape(w.shape)
    db = dy_mat.sum(axis=0)
    dcols = (dy_mat @ w.reshape(k, -1)).reshape(n, oh, ow, c, kh, kw)
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), x.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] += \
                dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, db


def main() -> None:
    args = common.parse_args(__doc__, lambda p: (p.add_argument("--dtype", default="float32",
                                                                choices=["float32", "float64"]),
                                                 p.add_argument("--quick", action="store_true")))
    import numpy as np
    import pyneural as pn

    torch = common.load_torch(args)
    info = common.machine(args, args.dtype)
    peak = info.get("peak_active")
    print(common.header(info, args.dtype, common.peak_text(info)))
    layers = LAYERS[:3] if args.quick else LAYERS
    rng = np.random.default_rng(0)
    rows, table = [], []
    for n, c, k, h, ks, stride in layers:
        pad = ks // 2
        x = rng.standard_normal((n, c, h, h)).astype(args.dtype)
        w = (rng.standard_normal((k, c, ks, ks)) / math.sqrt(c * ks * ks)).astype(args.dtype)
        b = rng.standard_normal(k).astype(args.dtype)
        y = pn.kernels.conv2d(x, w, b, stride, pad)
        dy = rng.standard_normal(y.shape).astype(args.dtype)
        flops = 2.0 * n * k * y.shape[2] * y.shape[3] * c * ks * ks
        peers = {
            "forward": {
                "pyneural": lambda: pn.kernels.conv2d(x, w, b, stride, pad),
                "numpy": lambda: numpy_conv(np, x, w, b, stride, pad),
            },
            "fwd+bwd": {
                "pyneural": lambda: (pn.kernels.conv2d(x, w, b, stride, pad),
                                     pn.kernels.conv2d_backward(dy, x, w, stride, pad)),
                "numpy": lambda: numpy_conv_backward(np, x, w, dy, numpy_conv(np, x, w, b, stride, pad)[1], stride,
                                                     pad),
            },
        }
        if torch is not None:
            tx, tw, tb, tdy = (torch.from_numpy(a) for a in (x, w, b, dy))
            txg, twg, tbg = (t.clone().requires_grad_() for t in (tx, tw, tb))

            def torch_forward():
                with torch.no_grad():
                    return torch.nn.functional.conv2d(tx, tw, tb, stride, pad)

            def torch_both():
                out = torch.nn.functional.conv2d(txg, twg, tbg, stride, pad)
                return torch.autograd.grad(out, (txg, twg, tbg), tdy)

            peers["forward"]["torch"] = torch_forward
            peers["fwd+bwd"]["torch"] = torch_both
        for mode, fns in peers.items():
            t, layer_peak = common.time_with_peak(fns, info, args.min_time)
            work = flops * (1 if mode == "forward" else 3)
            gflops = {name: work / sec * 1e-9 for name, sec in t.items()}
            row = {"layer": [n, c, k, h, ks, stride], "mode": mode, "gflops": gflops, "peak_gflops": layer_peak,
                   "pct_peak": 100 * gflops["pyneural"] / layer_peak if layer_peak else None,
                   "vs_numpy": t["numpy"] / t["pyneural"]}
            if torch is not None:
                row["vs_torch"] = t["torch"] / t["pyneural"]
            rows.append(row)
            table.append([f"{n},{c},{k},{h},{ks}" + (f" s{stride}" if stride > 1 else ""), mode,
                          f"{gflops['pyneural']:.1f}", f"{row['pct_peak']:.0f}%" if layer_peak else "-",
                          f"{gflops['numpy']:.1f}", f"{row['vs_numpy']:.2f}",
                          f"{gflops['torch']:.1f}" if torch else "-", f"{row['vs_torch']:.2f}" if torch else "-"])
    common.print_table(["N,C,K,H,k", "mode", "pyneural GF/s", "% peak", "numpy GF/s", "x numpy", "torch GF/s",
                        "x torch"], table)
    for mode in ("forward", "fwd+bwd"):
        picked = [r for r in rows if r["mode"] == mode]
        geo = {key: math.exp(sum(math.log(r[key]) for r in picked) / len(picked))
               for key in ("vs_numpy", "vs_torch") if key in picked[0]}
        print(f"geometric mean {mode}: " + ", ".join(f"{key} {v:.2f}" for key, v in geo.items()))
        info[f"geomean_{mode}"] = geo
    name = args.out or f"conv_{args.dtype}_{info['backend']}_{info['variant']}_{args.threads}t"

    def chart(path):
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), sharey=True)
        for ax, mode in zip(axes, ("forward", "fwd+bwd")):
            picked = [r for r in rows if r["mode"] == mode]
            names = list(picked[0]["gflops"])
            width = 0.8 / len(names)
            for i, peer in enumerate(names):
                ax.bar([x + i * width for x in range(len(picked))], [r["gflops"][peer] for r in picked], width,
                       label=peer)
            if peak:
                ax.axhline(peak, color="k", linestyle="--", linewidth=1, label=f"FMA peak ({info['variant']})")
            labels = [",".join(map(str, r["layer"][:5])) + (f" s{r['layer'][5]}" if r["layer"][5] > 1 else "")
                      for r in picked]
            ax.set_xticks([x + 0.4 - width / 2 for x in range(len(picked))], labels, rotation=45, ha="right")
            ax.set_title(f"conv2d {mode} (N,C,K,H,k)")
        axes[0].set_ylabel("GFLOP/s")
        axes[0].legend()
        fig.suptitle(f"{args.dtype}, {args.threads} threads, {info['cpu']}")
        fig.tight_layout()
        fig.savefig(path, dpi=110)

    print("wrote", common.save(name, info, rows, chart))


if __name__ == "__main__":
    main()
