"""Command line: ``python -m pyneural info``."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyneural", description="pyneural command line")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="print version, backend, CPU variant, threads and CUDA status, and why")
    args = parser.parse_args(argv)
    if args.command == "info":
        import pyneural
        pyneural.show_config()
    return 0


if __name__ == "__main__":
    sys.exit(main())
