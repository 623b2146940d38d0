"""The `byosms` command line."""

from __future__ import annotations

import argparse
import sys

from byosms import __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="byosms",
        description="byosms: bring-your-own-SMS gateway (SMPP 3.4 and HTTP SMS providers "
        "behind one websocket API).",
    )
    parser.add_argument("--version", action="version", version=f"byosms {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    check = sub.add_parser(
        "selfcheck",
        help="exercise the Rust core (every SMPP PDU type, charsets, segmentation, receipts) "
        "and print what it did",
        description="Encode and decode every SMPP 3.4 PDU type, a GSM-7, a UCS-2 and a long "
        "concatenated message, and a delivery receipt through byosms._core, checking each "
        "result. Exits non-zero if any check fails.",
    )
    check.add_argument(
        "-q", "--quiet", action="store_true", help="print only failures and the summary line"
    )
    check.set_defaults(func=_selfcheck)
    return parser


def _selfcheck(args: argparse.Namespace) -> int:
    from byosms.selfcheck import run

    return run(quiet=args.quiet)


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
