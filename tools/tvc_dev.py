"""Run a ``tvc`` subcommand from the source tree without importing the package __init__.

``tvc_ffmpeg/__init__.py`` imports the compiled ``_native`` module. The pure-Python parts
(data, models, training, evaluation) do not need it, and training must be startable and
resumable on a checkout where the extension is not built (or is being rebuilt). This shim
registers ``tvc_ffmpeg`` as a bare namespace for ``python/tvc_ffmpeg`` and then calls the
subcommand's ``main(argv)``.

    python3 tools/tvc_dev.py train tokenizer --run-dir runs/X ...
"""

from __future__ import annotations

import importlib
import logging
import sys
import types
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "python" / "tvc_ffmpeg"
SUBCOMMANDS = ("data", "train", "eval")


def _register_bare_package() -> None:
    if "tvc_ffmpeg" in sys.modules:
        return
    pkg = types.ModuleType("tvc_ffmpeg")
    pkg.__path__ = [str(PACKAGE_DIR)]
    pkg.__file__ = str(PACKAGE_DIR / "__init__.py")
    sys.modules["tvc_ffmpeg"] = pkg


def main(argv: list) -> int:
    if not argv or argv[0] not in SUBCOMMANDS:
        print(f"usage: tvc_dev.py {{{','.join(SUBCOMMANDS)}}} [args...]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _register_bare_package()
    module = importlib.import_module(f"tvc_ffmpeg.cli.{argv[0]}")
    return int(module.main(argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
