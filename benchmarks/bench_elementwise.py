"""Activations, softmax, the element-wise losses and dropout: pyneural vs the NumPy expression vs PyTorch,
forward and forward+backward, in GB/s and as a fraction of the copy bandwidth measured in the same run.

    python benchmarks/bench_elementwise.py [--threads 1] [--dtype float64] [--variant avx2] [--quick]

Bytes counted: forward reads x and writes y (2 arrays); forward+backward adds reading g and the saved
array and writing the gradient (5 arrays). The copy reads and writes one array (2 arrays).
Losses (reduction 'mean'): forward reads input and target (2 arrays); forward+backward reads them twice and
writes the input's gradient (5 arrays). Dropout: forward reads x, writes out and the one-byte mask;
forward+backward adds reading g and the mask and writing the gradient.
"""
from __future__ import annotations

import common


def main() -> None:
    args = common.parse_args(__doc__, lambda p: (p.add_argument("--dtype", default="float32",
                                                                choices=["float32", "float64"]),
                                                 p.add_argument("--quick", action="store_true")))
    import math

    import numpy as np

    import pyneural as pn
    from pyneural.kernels.activation import activation_backward
    from pyneural.kernels.softmax import softmax_backward
    try:
        from scipy.special import erf
    except ImportError:
        erf = None

    torch = common.load_torch(args)
    info = common.machine(args, args.dtype)
    dtype = np.dtype(args.dtype)
    n = 1 << 20 if args.quick else 1 << 22
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    logits = (rng.standard_normal((4096, 1000)) * 3).astype(dtype)
    g_logits = rng.standard_normal(logits.shape).astype(dtype)

    copy_gbs = common.copy_bandwidth(args.dtype, args.min_time, n)
    print(common.header(info, args.dtype, f"copy {copy_gbs:.1f} GB/s"))

    inv_sqrt2 = 1 / math.sqrt(2)
    numpy_forward = {
        "relu": lambda a: np.maximum(a, 0),
        "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
        "tanh": np.tanh,
        "silu": lambda a: a / (1 + np.exp(-a)),
        "gelu": (lambda a: 0.5 * a * (1 + erf(a * inv_sqrt2))) if erf else None,
    }
    numpy_backward = {  # gradient from g and the forward's saved array, as the kernels do
        "relu": lambda gr, a, y: gr * (a > 0),
        "sigmoid": lambda gr, a, y: gr * y * (1 - y),
        "tanh": lambda gr, a, y: gr * (1 - y * y),
        "silu": lambda gr, a, y: (lambda s: gr * s * (1 + a * (1 - s)))(1 / (1 + np.exp(-a))),
        "gelu": (lambda gr, a, y: gr * (0.5 * (1 + erf(a * inv_sqrt2)) + a * np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)))
        if erf else None,
    }
    torch_fn = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "silu": "silu", "gelu": "gelu"}

    rows, table = [], []

    def record(name: str, case: str, arrays: int, size: int, fns: dict, nbytes: int | None = None) -> None:
        fns = {k: v for k, v in fns.items() if v is not None}
        t = common.time_calls(fns, args.min_time)
        nbytes = arrays * size * dtype.itemsize if nbytes is None else nbytes
        gbs = {k: nbytes / v * 1e-9 for k, v in t.items()}
        row = {"op": name, "case": case, "seconds": t, "gbs": gbs, "copy_gbs": copy_gbs,
               "frac_copy": gbs["pyneural"] / copy_gbs,
               "vs_numpy": t["numpy"] / t["pyneural"] if "numpy" in t else None,
               "vs_torch": t["torch"] / t["pyneural"] if "torch" in t else None}
        rows.append(row)
        table.append([name, case, f"{t['pyneural'] * 1e3:.2f}", f"{gbs['pyneural']:.1f}",
                      f"{100 * row['frac_copy']:.0f}%",
                      f"{t['numpy'] * 1e3:.2f}" if "numpy" in t else "-",
                      f"{row['vs_numpy']:.2f}" if row["vs_numpy"] else "-",
                      f"{t['torch'] * 1e3:.2f}" if "torch" in t else "-",
                      f"{row['vs_torch']:.2f}" if row["vs_torch"] else "-"])

    tx = torch.from_numpy(x) if torch else None
    tg = torch.from_numpy(g) if torch else None
    for name in ("relu", "sigmoid", "tanh", "silu", "gelu"):
        kernel = getattr(pn.kernels, name)
        nf, nb = numpy_forward[name], numpy_backward[name]
        tf = getattr(torch.nn.functional, torch_fn[name]) if torch else None
        record(name, "fwd", 2, n, {"pyneural": lambda: kernel(x),
                                   "numpy": (lambda: nf(x)) if nf else None,
                                   "torch": (lambda: tf(tx)) if torch else None})
        # the same with the output allocated once: the kernel's own speed (fresh 16 MB outputs page-fault)
        buf = np.empty_like(x)
        numpy_out = {"relu": lambda: np.maximum(x, 0, out=buf), "tanh": lambda: np.tanh(x, out=buf),
                     "sigmoid": lambda: np.divide(1, np.add(1, np.exp(-x), out=buf), out=buf),
                     "silu": lambda: np.divide(x, np.add(1, np.exp(-x), out=buf), out=buf),
                     "gelu": (lambda: np.multiply(x * 0.5, np.add(1, erf(x * inv_sqrt2), out=buf), out=buf))
                     if erf else None}[name]
        torch_out = None
        if torch is not None and name in ("relu", "sigmoid", "tanh"):
            tbuf = torch.from_numpy(buf)
            torch_out = {"relu": lambda: torch.clamp_min(tx, 0, out=tbuf),
                         "sigmoid": lambda: torch.sigmoid(tx, out=tbuf), "tanh": lambda: torch.tanh(tx, out=tbuf)}[name]
        forward_kernel = pn.backend.kernel("activation_forward")
        record(name, "fwd, out= given", 2, n, {"pyneural": lambda: forward_kernel(name, x, buf, 0.0),
                                               "numpy": numpy_out, "torch": torch_out})
        saved_output = name in ("sigmoid", "tanh")

        def pn_fb():
            y = kernel(x)
            return activation_backward(name, g, y if saved_output else x)

        def torch_fb():
            xr = tx.detach().requires_grad_()
            tf(xr).backward(tg)
            return xr.grad

        record(name, "fwd+bwd", 5, n, {"pyneural": pn_fb,
                                       "numpy": (lambda: nb(g, x, nf(x))) if nf else None,
                                       "torch": torch_fb if torch else None})

    # GELU on N(0, 1) data too, as after a normalisation layer (the rows above use 3 N(0, 1), 0.4% of whose
    # values lie below the AVX-512 variant's pieces and take the closed form)
    x1 = rng.standard_normal(n).astype(dtype)
    tx1 = torch.from_numpy(x1) if torch else None
    gelu_np, gelu_np_bwd = numpy_forward["gelu"], numpy_backward["gelu"]

    def pn_gelu_fb():
        pn.kernels.gelu(x1)
        return activation_backward("gelu", g, x1)

    def torch_gelu_fb():
        xr = tx1.detach().requires_grad_()
        torch.nn.functional.gelu(xr).backward(tg)
        return xr.grad

    record("gelu", "fwd, x ~ N(0,1)", 2, n, {"pyneural": lambda: pn.kernels.gelu(x1),
                                             "numpy": (lambda: gelu_np(x1)) if gelu_np else None,
                                             "torch": (lambda: torch.nn.functional.gelu(tx1)) if torch else None})
    record("gelu", "fwd+bwd, x ~ N(0,1)", 5, n,
           {"pyneural": pn_gelu_fb,
            "numpy": (lambda: gelu_np_bwd(g, x1, gelu_np(x1))) if gelu_np else None,
            "torch": torch_gelu_fb if torch else None})

    def np_softmax(a):
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def np_log_softmax(a):
        m = a.max(axis=1, keepdims=True)
        return a - m - np.log(np.exp(a - m).sum(axis=1, keepdims=True))

    tl = torch.from_numpy(logits) if torch else None
    tgl = torch.from_numpy(g_logits) if torch else None
    for name, npf in (("softmax", np_softmax), ("log_softmax", np_log_softmax)):
        kernel = getattr(pn.kernels, name)
        log = name == "log_softmax"
        tf = getattr(torch, name) if torch else None
        record(name, "fwd (4096x1000)", 2, logits.size, {"pyneural": lambda: kernel(logits, -1),
                                                         "numpy": lambda: npf(logits),
                                                         "torch": (lambda: tf(tl, 1)) if torch else None})

        def np_fb():
            y = npf(logits)
            if log:
                return g_logits - np.exp(y) * g_logits.sum(axis=1, keepdims=True)
            return y * (g_logits - (g_logits * y).sum(axis=1, keepdims=True))

        def torch_fb():
            xr = tl.detach().requires_grad_()
            tf(xr, 1).backward(tgl)
            return xr.grad

        record(name, "fwd+bwd", 5, logits.size, {"pyneural": lambda: softmax_backward(g_logits, kernel(logits), -1, log),
                                                 "numpy": np_fb, "torch": torch_fb if torch else None})

    # softmax over the channels of an NCHW map (segmentation): the non-last-axis kernel, no transposes
    seg = (rng.standard_normal((16, 21, 64, 64)) * 3).astype(dtype)
    tseg = torch.from_numpy(seg) if torch else None

    def np_softmax_channels(a):
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    record("softmax", "fwd dim=1 (16,21,64,64)", 2, seg.size,
           {"pyneural": lambda: pn.kernels.softmax(seg, 1), "numpy": lambda: np_softmax_channels(seg),
            "torch": (lambda: torch.softmax(tseg, 1)) if torch else None})

    # ---- element-wise losses, reduction 'mean' (the kernel sums in one pass; no per-element array) ----
    from pyneural.kernels import loss as KL
    target = rng.standard_normal(n).astype(dtype)
    prob = rng.uniform(0.01, 0.99, n).astype(dtype)
    label = rng.uniform(0, 1, n).astype(dtype)
    beta = 1.0

    def np_bce_logits(a, b):
        return ((1 - b) * a + np.logaddexp(0, -a)).mean()

    losses = {  # kind: (input, target, NumPy mean, NumPy gradient of the mean, torch function)
        "mse": (x, target, lambda a, b: np.mean((a - b) ** 2), lambda a, b: 2 * (a - b) / a.size, "mse_loss"),
        "l1": (x, target, lambda a, b: np.mean(np.abs(a - b)), lambda a, b: np.sign(a - b) / a.size, "l1_loss"),
        "smooth_l1": (x, target,
                      lambda a, b: np.mean((lambda d: np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta))(
                          np.abs(a - b))),
                      lambda a, b: np.clip((a - b) / beta, -1, 1) / a.size, "smooth_l1_loss"),
        "bce": (prob, label,
                lambda a, b: -np.mean(b * np.maximum(np.log(a), -100) + (1 - b) * np.maximum(np.log1p(-a), -100)),
                lambda a, b: (a - b) / np.maximum((1 - a) * a, 1e-12) / a.size, "binary_cross_entropy"),
        "bce_with_logits": (x, label, np_bce_logits,
                            lambda a, b: (1 / (1 + np.exp(-a)) - b) / a.size, "binary_cross_entropy_with_logits"),
    }
    for kind, (a, b, np_mean, np_grad, torch_name) in losses.items():
        ta, tb = (torch.from_numpy(a), torch.from_numpy(b)) if torch else (None, None)
        tfn = getattr(torch.nn.functional, torch_name) if torch else None
        record(kind, "loss mean", 2, n, {"pyneural": lambda: KL.elementwise_loss(kind, a, b),
                                          "numpy": lambda: np_mean(a, b),
                                          "torch": (lambda: tfn(ta, tb)) if torch else None})

        def pn_fb():
            KL.elementwise_loss(kind, a, b)
            return KL.elementwise_loss_backward(kind, a, b, 1.0)

        def torch_fb():
            ar = ta.detach().requires_grad_()
            tfn(ar, tb).backward()
            return ar.grad

        record(kind, "loss mean fwd+bwd", 5, n, {"pyneural": pn_fb, "numpy": lambda: (np_mean(a, b), np_grad(a, b)),
                                                  "torch": torch_fb if torch else None})

    # ---- dropout (p = 0.5): mask of one byte per element ----
    p_drop = 0.5
    gen = np.random.default_rng(1)

    def np_dropout():
        keep = gen.random(n, dtype=dtype) >= p_drop
        return x * keep * dtype.type(1 / (1 - p_drop)), keep

    fwd_bytes = n * (2 * dtype.itemsize + 1)
    record("dropout", "fwd", 2, n, {"pyneural": lambda: pn.kernels.dropout(x, p_drop),
                                    "numpy": np_dropout,
                                    "torch": (lambda: torch.nn.functional.dropout(tx, p_drop)) if torch else None},
           nbytes=fwd_bytes)

    def pn_drop_fb():
        _, mask = pn.kernels.dropout(x, p_drop)
        return pn.kernels.dropout_backward(g, mask, p_drop)

    def np_drop_fb():
        _, keep = np_dropout()
        return g * keep * dtype.type(1 / (1 - p_drop))

    def torch_drop_fb():
        xr = tx.detach().requires_grad_()
        torch.nn.functional.dropout(xr, p_drop).backward(tg)
        return xr.grad

    record("dropout", "fwd+bwd", 5, n, {"pyneural": pn_drop_fb, "numpy": np_drop_fb,
                                        "torch": torch_drop_fb if torch else None},
           nbytes=fwd_bytes + n * (2 * dtype.itemsize + 1))

    common.print_table(["op", "case", "pn ms", "pn GB/s", "% copy", "numpy ms", "x numpy", "torch ms", "x torch"],
                       table)
    name = args.out or f"elementwise_{args.dtype}_{info['backend']}_{info['variant']}_{args.threads}t"

    def chart(path):
        common.bar_chart(path, [f"{r['op']} {r['case']}" for r in rows],
                         {peer: [r["gbs"].get(peer, 0) for r in rows] for peer in ("pyneural", "numpy", "torch")},
                         (copy_gbs, "copy"), "GB/s", f"element-wise {args.dtype}, {args.threads} threads, {info['cpu']}")

    print("wrote", common.save(name, info, rows, chart))


if __name__ == "__main__":
    main()
