"""The ``tvc`` command line: a thin dispatcher over subcommand modules.

Each subcommand lives in its own module under ``tvc_ffmpeg.cli`` and exposes
``main(argv: list[str] | None) -> int`` so tests call it directly. Modules are
imported lazily, so ``tvc info`` never pays for importing torch.
"""

from __future__ import annotations

import errno
import importlib
import io
import logging
import os
import select
import sys
from typing import List, Optional, Sequence

from .._version import __version__

# name -> (module, one-line help). Order here is the order shown in --help.
COMMANDS = {
    "demo": ("tvc_ffmpeg.cli.demo", "encode and decode a bundled clip, print bpp and quality"),
    "encode": ("tvc_ffmpeg.cli.encode", "encode a video into a .tvc stream"),
    "batch": ("tvc_ffmpeg.cli.batch", "encode many videos as one job on Ray workers, with a result table"),
    "decode": ("tvc_ffmpeg.cli.decode", "decode a .tvc stream into a video"),
    "info": ("tvc_ffmpeg.cli.info", "print the header and per-GoP sizes of a .tvc file, flag damage"),
    "ffmpeg": ("tvc_ffmpeg.cli.ffmpeg", "build an FFmpeg with -c:v libtvc and the .tvc format (tvc ffmpeg build)"),
    "data": ("tvc_ffmpeg.cli.data", "assemble the training/validation material into the local cache"),
    "train": ("tvc_ffmpeg.cli.train", "train a model (tvc train tokenizer ...)"),
    "eval": ("tvc_ffmpeg.cli.eval", "evaluate a model (tvc eval tokenizer ...)"),
    "config": ("tvc_ffmpeg.cli.config", "print the flags a C build needs for libtvc (--cflags --libs)"),
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
    """Run one ``tvc`` command; every expected failure becomes one line on stderr.

    Errors are turned into messages here rather than in ``entry_point`` so that a
    test or a script calling ``main([...])`` sees the same exit codes a user does.
    """
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
    return _run(name, rest)


def _run(name: str, rest: List[str]) -> int:
    from ..errors import TvcError

    prefix = f"tvc {name}: error:"
    try:
        module = importlib.import_module(COMMANDS[name][0])
        status = int(module.main(rest))
        _flush_stdout()  # here, not at interpreter exit, so a failure gets a message
        return status
    except TvcError as exc:
        print(f"{prefix} {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError as exc:
        if _is_stdout(exc):
            # The reader of our stdout went away (`tvc decode x.tvc - | head`): a
            # normal end for a filter, not a failure.
            _silence_stdout()
            return 0
        print(f"{prefix} {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        if _is_stdout(exc):
            _silence_stdout()  # else interpreter shutdown retries the flush and fails again
        print(f"{prefix} {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except EOFError as exc:
        print(f"{prefix} input ends unexpectedly{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"tvc {name}: interrupted", file=sys.stderr)
        return 130


def describe_os_error(exc: OSError) -> str:
    """``<what>: <path>: <reason>`` for an OSError, the shape of coreutils' messages."""
    if exc.errno is None:
        return str(exc) or type(exc).__name__  # raised with a sentence of our own, not by the OS
    reason = exc.strerror or str(exc)
    what = getattr(exc, "tvc_action", None) or _action(exc)
    # A failed rename names the user's path second (the first is a temporary file).
    name = exc.filename2 if exc.filename2 is not None else exc.filename
    if name is None:
        return f"{what}: {reason}"
    return f"{what}: {os.fsdecode(name) if isinstance(name, (str, bytes)) else name}: {reason}"


def _action(exc: OSError) -> str:
    """What the failed operation most likely was, when the code that hit it did not
    say (writers set ``tvc_action``): errors with a file name come from opening it,
    the ones below only from writing."""
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EPIPE, errno.EROFS):
        return "cannot write"
    return "cannot open" if exc.filename is not None else "input/output error"


def _stdout_name() -> str:
    from ..video.writer import STDOUT_NAME  # only on error paths: keeps startup light

    return STDOUT_NAME


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), _stdout_name()) from exc


def _is_stdout(exc: OSError) -> bool:
    """Whether the error happened on standard output: the name video/writer.py gives
    it, or no name at all while stdout is a pipe whose reader is gone."""
    if exc.filename is None:
        return _stdout_reader_gone()
    return exc.filename == _stdout_name()


def _stdout_reader_gone() -> bool:
    """True when fd 1 is a pipe with no reader left (poll reports an error on it)."""
    try:
        poller = select.poll()
        poller.register(sys.__stdout__.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False  # no poll() here, or no real stdout: do not guess


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush of sys.stdout cannot
    raise a second time ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # stdout is not a real file (a test's capture): nothing will be flushed to it


def entry_point() -> None:
    """Console-script entry: ``main`` does all the work, including error messages."""
    sys.exit(main())
