"""The `fastlearn` command line (also `python -m fastlearn`)."""
from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastlearn", description="Image classifiers with the fast.ai course's recipe.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train on the embedded MNIST digits and report accuracy")
    demo.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    demo.add_argument("--size", type=int, default=64)
    demo.add_argument("--bs", type=int, default=64)
    demo.add_argument("--arch", default="tf_efficientnet_lite0")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from fastlearn.demo import run_demo
            run_demo(args.out, args.size, args.bs, args.arch)
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if args.debug:
            raise
        print(f"fastlearn {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
