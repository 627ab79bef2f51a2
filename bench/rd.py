"""Rate-distortion comparison against the classic encoders, on the validation clips.

The benchmark lives in the package (tvc_ffmpeg.rd.harness) so that ``tvc eval rd`` runs the
very same code; this script is its command-line entry. ``python bench/rd.py --help`` lists
the options; docs/evaluation.md has the command behind results/rd/ and what it measures.
"""

from __future__ import annotations

import sys

from tvc_ffmpeg.rd.harness import load_clip, load_extra_codec, machine_line, main, merge  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
