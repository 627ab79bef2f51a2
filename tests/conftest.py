import os
import sys

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--regen-expected",
        action="store_true",
        help="rewrite tests/expected/* from the current code (review the diff!)",
    )


@pytest.fixture
def regen(request):
    return request.config.getoption("--regen-expected")


@pytest.fixture(scope="session")
def ffmpeg_build():
    """The FFmpeg with TVC grafted in (`tvc ffmpeg build`), built once per machine: the build
    is cached under ~/.cache/tvc_ffmpeg/ffmpeg (or $TVC_CACHE_DIR) by FFmpeg version, graft
    hash and libtvc, so only the first session (or one after an ffmpeg_filter/ change) pays
    for it. $TVC_FFMPEG_SUITE=trixie runs the tests against FFmpeg 7.1 instead of 5.1.
    Skipped where libtvc or the FFmpeg source cannot be had; a failed build fails."""
    import shutil

    from tvc_ffmpeg.errors import InternalError
    from tvc_ffmpeg.ffmpeg_build import DEFAULT_SUITE, FFmpegBuildError, build, libtvc_location

    try:
        libtvc_location()
    except InternalError as exc:
        pytest.skip(f"no libtvc in this install: {exc}")
    for tool in ("make", "cc", "pkg-config"):
        if shutil.which(tool) is None:
            pytest.skip(f"building FFmpeg needs {tool}")
    try:
        return build(suite=os.environ.get("TVC_FFMPEG_SUITE", DEFAULT_SUITE), progress=lambda message: print(f"[tvc ffmpeg build] {message}", file=sys.stderr, flush=True))
    except FFmpegBuildError as exc:
        if "apt-get" in str(exc) and "--source" in str(exc):
            pytest.skip(str(exc))
        raise
