"""Command line: ``python -m pyneural info | demo``."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyneural", description="pyneural command line")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="print version, backend, CPU variant, threads and CUDA status, and why")
    demo = commands.add_parser("demo", help="train a CNN on the handwritten digits; print accuracy and a kernel profile")
    demo.add_argument("--epochs", type=int, default=25)
    demo.add_argument("--plot", default="digits_loss.png", help="where to save the loss curve ('' for none)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.command == "info":
        import pyneural
        pyneural.show_config()
    elif args.command == "demo":
        from pyneural import demo as demo_module
        demo_module.run(epochs=args.epochs, plot=args.plot or None, progress=not args.no_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
