"""Command line: ``python -m pyneural info | demo | bench``."""
from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyneural", description="pyneural command line")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="print version, backend, CPU variant, threads and CUDA status, and why")
    demo = commands.add_parser("demo", help="train a CNN on the handwritten digits; print accuracy and a kernel profile")
    demo.add_argument("--epochs", type=int, default=25)
    demo.add_argument("--plot", default="digits_loss.png", help="where to save the loss curve ('' for none)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    bench = commands.add_parser("bench", help="time matmul and softmax against NumPy (and PyTorch if installed)")
    bench.add_argument("--threads", type=int, default=None, help="threads (default: all available)")
    args = parser.parse_args(argv)
    if args.command == "info":
        import pyneural
        pyneural.show_config()
    elif args.command == "demo":
        from pyneural import demo as demo_module
        demo_module.run(epochs=args.epochs, plot=args.plot or None, progress=not args.no_progress)
    elif args.command == "bench":
        if args.threads:  # before NumPy loads, so that its BLAS uses the same thread count
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PYNEURAL_NUM_THREADS"):
                os.environ[var] = str(args.threads)
        import pyneural
        from pyneural import bench as bench_module
        if args.threads:
            pyneural.set_num_threads(args.threads)
        bench_module.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
