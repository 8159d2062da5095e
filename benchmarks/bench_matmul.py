"""Matmul: pyneural vs NumPy (OpenBLAS) vs PyTorch, GFLOP/s and % of the FMA peak measured beside each shape.

    python benchmarks/bench_matmul.py [--dtype float64] [--variant avx2] [--threads 1] [--quick]
"""
from __future__ import annotations

import common

SQUARE = [(s, s, s) for s in (64, 128, 256, 512, 1024, 2048)]
MLP = [(128, 784, 256), (128, 256, 784), (784, 128, 256), (128, 256, 128), (256, 128, 10), (128, 10, 256)]
SKINNY = [(64, 4096, 1024), (1000, 1000, 37), (1, 1024, 1024), (4096, 64, 4096)]


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
    shapes = [("square", s) for s in SQUARE] + [("mlp", s) for s in MLP] + [("skinny", s) for s in SKINNY]
    if args.quick:
        shapes = [x for x in shapes if max(x[1]) <= 1024]
    rng = np.random.default_rng(0)
    rows, table = [], []
    for group, (m, k, n) in shapes:
        a = rng.standard_normal((m, k)).astype(args.dtype)
        b = rng.standard_normal((k, n)).astype(args.dtype)
        out = np.empty((m, n), args.dtype)
        flops = 2.0 * m * n * k
        fns = {"pyneural": lambda: pn.kernels.matmul(a, b, out=out), "numpy": lambda: np.matmul(a, b, out=out)}
        if torch is not None:
            ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
            fns["torch"] = lambda: torch.matmul(ta, tb, out=tout)
        t, shape_peak = common.time_with_peak(fns, info, args.min_time)
        gflops = {name: flops / sec * 1e-9 for name, sec in t.items()}
        row = {"group": group, "m": m, "k": k, "n": n, "gflops": gflops, "peak_gflops": shape_peak,
               "pct_peak": 100 * gflops["pyneural"] / shape_peak if shape_peak else None,
               "vs_numpy": t["numpy"] / t["pyneural"]}
        if torch is not None:
            row["vs_torch"] = t["torch"] / t["pyneural"]
        rows.append(row)
        table.append([f"{m}x{k}x{n}", f"{gflops['pyneural']:.1f}", f"{row['pct_peak']:.0f}%" if shape_peak else "-",
                      f"{gflops['numpy']:.1f}", f"{row['vs_numpy']:.2f}",
                      f"{gflops['torch']:.1f}" if torch else "-", f"{row['vs_torch']:.2f}" if torch else "-"])
    common.print_table(["m x k x n", "pyneural GF/s", "% peak", "numpy GF/s", "x numpy", "torch GF/s", "x torch"],
                       table)
    name = args.out or f"matmul_{args.dtype}_{info['backend']}_{info['variant']}_{args.threads}t"

    def chart(path):
        common.bar_chart(path, [f"{r['m']}x{r['k']}x{r['n']}" for r in rows],
                         {peer: [r["gflops"][peer] for r in rows] for peer in rows[0]["gflops"]},
                         (peak, f"FMA peak ({info['variant']})") if peak else None, "GFLOP/s",
                         f"matmul {args.dtype}, {args.threads} threads, {info['cpu']}")

    print("wrote", common.save(name, info, rows, chart))


if __name__ == "__main__":
    main()
