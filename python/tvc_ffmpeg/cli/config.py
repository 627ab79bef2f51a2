"""``tvc config``: what a C build needs to use libtvc, like ``pkg-config tvc``.

libtvc, tvc.h and tvc.pc are installed inside the package (tvc_ffmpeg/lib,
tvc_ffmpeg/include, tvc_ffmpeg/lib/pkgconfig). The package's install directory
is the one holding the compiled module: in an editable install the Python sources
stay in the checkout while the built files land in site-packages. Nothing heavy is
imported (the FFmpeg build calls this).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import List, Optional, Sequence

from ..errors import InternalError

LIBRARY = "libtvc.so"


def install_prefix() -> Path:
    """The directory of the installed package that holds lib/ and include/."""
    spec = importlib.util.find_spec("tvc_ffmpeg._native")
    if spec is None or not spec.origin:
        raise InternalError("tvc_ffmpeg._native is not installed: build the package (pip install .)")
    prefix = Path(spec.origin).resolve().parent
    if not (prefix / "lib" / LIBRARY).is_file():
        raise InternalError(
            f"libtvc is not installed in {prefix / 'lib'}: the package was built without it "
            "(it needs a Python with a shared libpython; see docs/capi.md)")
    return prefix


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tvc config",
        description=(
            "Print what a C or C++ build needs to use libtvc (the C API of tvc.h), like "
            "pkg-config: e.g. cc prog.c $(tvc config --cflags --libs). The flags given are "
            "printed on one line in the order --cflags, --libs; each of the path options "
            "prints its directory on its own line."
        ),
    )
    p.add_argument("--cflags", action="store_true", help="compiler flags (-I to tvc.h)")
    p.add_argument("--libs", action="store_true", help="linker flags (-L, an rpath, -ltvc)")
    p.add_argument("--pkg-config-path", action="store_true",
                   help="the directory holding tvc.pc (for PKG_CONFIG_PATH)")
    p.add_argument("--prefix", action="store_true", help="the install directory of lib/ and include/")
    p.add_argument("--libdir", action="store_true", help="the directory holding libtvc.so")
    p.add_argument("--includedir", action="store_true", help="the directory holding tvc/tvc.h")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prefix = install_prefix()
    libdir, includedir = prefix / "lib", prefix / "include"
    flags: List[str] = []
    if args.cflags:
        flags.append(f"-I{includedir}")
    if args.libs:
        flags += [f"-L{libdir}", f"-Wl,-rpath,{libdir}", "-ltvc"]
    lines = [" ".join(flags)] if flags else []
    for wanted, path in ((args.pkg_config_path, libdir / "pkgconfig"), (args.prefix, prefix),
                         (args.libdir, libdir), (args.includedir, includedir)):
        if wanted:
            lines.append(str(path))
    if not lines:
        parser.print_usage()
        return 2
    print("\n".join(lines))
    return 0
