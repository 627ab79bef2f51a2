"""The ``tvc`` command line: a thin dispatcher over subcommand modules.

Each subcommand lives in its own module under ``tvc_ffmpeg.cli`` and exposes
``main(argv: list[str] | None) -> int`` so tests call it directly. Modules are
imported lazily, so ``tvc info`` never pays for importing torch.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Optional, Sequence

from .._version import __version__

# name -> (module, one-line help). Order here is the order shown in --help.
COMMANDS = {
    "demo": ("tvc_ffmpeg.cli.demo", "encode and decode a bundled clip, print bpp and quality"),
    "encode": ("tvc_ffmpeg.cli.encode", "encode a video into a .tvc stream"),
    "decode": ("tvc_ffmpeg.cli.decode", "decode a .tvc stream into a video"),
    "info": ("tvc_ffmpeg.cli.info", "print the header and per-GoP sizes of a .tvc file, flag damage"),
    "data": ("tvc_ffmpeg.cli.data", "assemble the training/validation material into the local cache"),
    "train": ("tvc_ffmpeg.cli.train", "train a model (tvc train tokenizer ...)"),
    "eval": ("tvc_ffmpeg.cli.eval", "evaluate a model (tvc eval tokenizer ...)"),
}


def _usage() -> str:
    lines = [
        f"tvc {__version__} - token-based video codec for ultra-low bitrates",
        "",
        "usage: tvc [--version] [-v] <command> [args...]",
        "",
        "commands:",
    ]
    for name, (_, help_text) in COMMANDS.items():
        lines.append(f"  {name:<8} {help_text}")
    lines.append("")
    lines.append("Run 'tvc <command> --help' for the options of a command.")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = False
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("-h", "--help"):
            print(_usage())
            return 0
        if flag == "--version":
            print(f"tvc {__version__}")
            return 0
        if flag in ("-v", "--verbose"):
            verbose = True
            continue
        print(f"tvc: unknown option {flag!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args:
        print(_usage(), file=sys.stderr)
        return 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"tvc: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest))


def entry_point() -> None:
    """Console-script entry: turn library errors into one clear line and exit code 1."""
    from ..errors import TvcError

    try:
        sys.exit(main())
    except TvcError as exc:
        print(f"tvc: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("tvc: interrupted", file=sys.stderr)
        sys.exit(130)
