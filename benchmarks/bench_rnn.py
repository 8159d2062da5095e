"""Sequence-model training step: pyneural against PyTorch, same weights, data and optimizer.

    python benchmarks/bench_rnn.py [--threads 2] [--min-time 0.3]

Each case times one training step (forward, MSE loss on the output, backward, Adam step) with PyTorch's
weights copied into the pyneural model, interleaved and best-of (``common.time_calls``), at 1 thread and at
--threads. Cases are rows of ``CASES`` (LSTM, GRU, a 2-layer Transformer encoder): add a model there and it
is timed, printed and saved like the others.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import common

BATCH, STEPS, INPUT, HIDDEN = 64, 50, 32, 128
D_MODEL, HEADS, FF, SEQ, BATCH_TF = 128, 4, 512, 64, 32  # the encoder case; dropout 0 so both compute the same


@dataclass
class Case:
    """A model to time: ``build(nn)`` makes it from ``torch.nn`` or ``pyneural.nn`` (same parameter names),
    ``output(model, x)`` is the tensor the loss is taken on, ``shape`` that of the input (float32)."""

    name: str
    build: Callable[[Any], Any]
    output: Callable[[Any, Any], Any]
    shape: tuple[int, ...]


def first(model, x):
    """The output sequence of a recurrent layer (it returns ``(output, state)``)."""
    return model(x)[0]


CASES: list[Case] = [
    Case(f"LSTM {INPUT}->{HIDDEN}, T={STEPS}, B={BATCH}", lambda nn: nn.LSTM(INPUT, HIDDEN), first,
         (STEPS, BATCH, INPUT)),
    Case(f"GRU {INPUT}->{HIDDEN}, T={STEPS}, B={BATCH}", lambda nn: nn.GRU(INPUT, HIDDEN), first,
         (STEPS, BATCH, INPUT)),
    Case(f"TransformerEncoder 2 layers, d={D_MODEL}, {HEADS} heads, ff={FF}, T={SEQ}, B={BATCH_TF}",
         lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, dropout=0.0), 2,
                                              enable_nested_tensor=False),
         lambda model, x: model(x), (SEQ, BATCH_TF, D_MODEL)),
]


def time_case(case: Case, pn, torch, args, rng) -> dict:
    """Best step time of pyneural and (if installed) PyTorch on one case at the current thread count."""
    import numpy as np
    x = rng.standard_normal(case.shape).astype(np.float32)
    model = case.build(pn.nn)
    px = pn.tensor(x)
    fns = {}
    tmodel = None
    if torch is not None:
        tmodel = case.build(torch.nn)
        model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    with pn.no_grad():
        target = np.zeros_like(case.output(model, px).numpy())  # the loss pulls the outputs towards 0
    opt = pn.optim.Adam(model.parameters(), lr=1e-3)
    ptarget = pn.tensor(target)

    def pn_step():
        opt.zero_grad()
        pn.nn.functional.mse_loss(case.output(model, px), ptarget).backward()
        opt.step()

    fns["pyneural"] = pn_step
    if tmodel is not None:
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        tx, ttarget = torch.from_numpy(x), torch.from_numpy(target)

        def torch_step():
            topt.zero_grad()
            torch.nn.functional.mse_loss(case.output(tmodel, tx), ttarget).backward()
            topt.step()

        fns["torch"] = torch_step
    return common.time_calls(fns, args.min_time)


def main() -> None:
    args = common.parse_args(__doc__)
    import numpy as np
    import pyneural as pn
    torch = common.load_torch(args)
    info = common.machine(args, "float32")
    print(common.header(info))
    rows, table = [], []
    for threads in sorted({1, args.threads}):
        pn.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for case in CASES:
            t = time_case(case, pn, torch, args, np.random.default_rng(0))
            row = {"model": case.name, "threads": threads, "step_ms": {k: v * 1e3 for k, v in t.items()}}
            if "torch" in t:
                row["vs_torch"] = t["torch"] / t["pyneural"]
            rows.append(row)
            table.append([case.name, threads, f"{t['pyneural'] * 1e3:.2f}",
                          f"{t['torch'] * 1e3:.2f}" if "torch" in t else "-",
                          f"{row['vs_torch']:.2f}" if "torch" in t else "-"])
    print("\ntraining step (forward + MSE loss + backward + Adam), float32; x torch > 1: pyneural faster")
    common.print_table(["model", "threads", "pyneural ms", "torch ms", "x torch"], table)
    print("wrote", common.save(args.out or f"rnn_{info['backend']}_{args.threads}t", info, rows))


if __name__ == "__main__":
    main()
