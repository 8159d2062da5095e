"""Training step time and end-to-end accuracy: pyneural against PyTorch, same models, data and settings.

    python benchmarks/bench_training.py [--threads 1] [--epochs 20]

* per-step time (forward, backward, Adam step) of an MLP 784-256-128-10 and a LeNet-style CNN on
  28x28 inputs, batch 128, with PyTorch's weights copied into the pyneural model;
* digits (scikit-learn) MLP and CNN trained for --epochs: test accuracy and seconds, both libraries;
* the Python overhead of one tiny op, with and without autograd.
"""
from __future__ import annotations

import time

import common


def mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def lenet(nn):
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def digits_mlp(nn):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def digits_cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def main() -> None:
    args = common.parse_args(__doc__, lambda p: p.add_argument("--epochs", type=int, default=20))
    import numpy as np
    import pyneural as pn
    torch = common.load_torch(args)
    info = common.machine(args, "float32")
    print(common.header(info))
    rows = []

    # ---- per-step time, identical weights and batches
    rng = np.random.default_rng(0)
    table = []
    for name, build, shape in [("MLP 784-256-128-10", mlp, (128, 784)), ("LeNet 28x28", lenet, (128, 1, 28, 28))]:
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.integers(0, 10, 128)
        model = build(pn.nn)
        opt = pn.optim.Adam(model.parameters(), lr=1e-3)
        px, py = pn.tensor(x), pn.tensor(y)
        loss_fn = pn.nn.CrossEntropyLoss()

        def pn_step():
            opt.zero_grad()
            loss_fn(model(px), py).backward()
            opt.step()

        fns = {"pyneural": pn_step}
        if torch is not None:
            tmodel = build(torch.nn)
            model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
            topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
            tx, ty, tloss = torch.from_numpy(x), torch.from_numpy(y), torch.nn.CrossEntropyLoss()

            def torch_step():
                topt.zero_grad()
                tloss(tmodel(tx), ty).backward()
                topt.step()

            fns["torch"] = torch_step
        t = common.time_calls(fns, args.min_time)
        row = {"model": name, "step_ms": {k: v * 1e3 for k, v in t.items()}}
        if torch is not None:
            row["vs_torch"] = t["torch"] / t["pyneural"]
        rows.append(row)
        table.append([name, f"{t['pyneural'] * 1e3:.2f}", f"{t['torch'] * 1e3:.2f}" if torch else "-",
                      f"{row['vs_torch']:.2f}" if torch else "-"])
    print("\ntraining step (forward + backward + Adam), batch 128")
    common.print_table(["model", "pyneural ms", "torch ms", "x torch"], table)

    # ---- digits end to end
    from pyneural.data import DataLoader, random_split
    from pyneural.data.datasets import load_digits
    table = []
    for name, build in [("digits MLP", digits_mlp), ("digits CNN", digits_cnn)]:
        pn.manual_seed(0)
        train_set, test_set = random_split(load_digits(), [0.8, 0.2])
        model = build(pn.nn)
        start = time.perf_counter()
        pn.train.fit(model, pn.nn.CrossEntropyLoss(), pn.optim.Adam(model.parameters(), lr=2e-3),
                     DataLoader(train_set, batch_size=32, shuffle=True), epochs=args.epochs, progress=False)
        pn_time = time.perf_counter() - start
        pn_acc = pn.train.evaluate(model, pn.nn.CrossEntropyLoss(), DataLoader(test_set, batch_size=512))["accuracy"]
        row = {"model": name, "pyneural": {"accuracy": pn_acc, "seconds": pn_time}}
        cells = [name, f"{100 * pn_acc:.2f}%", f"{pn_time:.2f}"]
        if torch is not None:
            torch.manual_seed(0)
            xs, ys = (t.data for t in train_set.dataset.tensors)
            xtr, ytr = torch.from_numpy(xs[train_set.indices]), torch.from_numpy(ys[train_set.indices])
            xte, yte = torch.from_numpy(xs[test_set.indices]), torch.from_numpy(ys[test_set.indices])
            tmodel = build(torch.nn)
            topt, tloss = torch.optim.Adam(tmodel.parameters(), lr=2e-3), torch.nn.CrossEntropyLoss()
            start = time.perf_counter()
            for _ in range(args.epochs):
                order = torch.randperm(len(xtr))
                for i in range(0, len(xtr), 32):
                    idx = order[i:i + 32]
                    topt.zero_grad()
                    tloss(tmodel(xtr[idx]), ytr[idx]).backward()
                    topt.step()
            t_time = time.perf_counter() - start
            with torch.no_grad():
                t_acc = float((tmodel(xte).argmax(1) == yte).float().mean())
            row["torch"] = {"accuracy": t_acc, "seconds": t_time}
            cells += [f"{100 * t_acc:.2f}%", f"{t_time:.2f}", f"{t_time / pn_time:.2f}"]
        else:
            cells += ["-", "-", "-"]
        rows.append(row)
        table.append(cells)
    print(f"\ndigits, {args.epochs} epochs, batch 32, Adam")
    common.print_table(["model", "pyneural acc", "pyneural s", "torch acc", "torch s", "x torch"], table)

    # ---- Python overhead of a tiny op
    a, b = pn.ones(4), pn.ones(4)
    ag, bg = pn.ones(4, requires_grad=True), pn.ones(4, requires_grad=True)
    fns = {"pyneural": lambda: a + b, "pyneural (grad)": lambda: ag + bg}
    if torch is not None:
        ta, tb = torch.ones(4), torch.ones(4)
        tag, tbg = torch.ones(4, requires_grad=True), torch.ones(4, requires_grad=True)
        fns.update({"torch": lambda: ta + tb, "torch (grad)": lambda: tag + tbg})
    t = common.time_calls(fns, args.min_time)
    rows.append({"tiny_op_us": {k: v * 1e6 for k, v in t.items()}})
    print("\ntiny op (a + b on 4 floats), microseconds")
    common.print_table(list(t), [[f"{v * 1e6:.2f}" for v in t.values()]])
    print("wrote", common.save(args.out or f"training_{info['backend']}_{args.threads}t", info, rows))


if __name__ == "__main__":
    main()
