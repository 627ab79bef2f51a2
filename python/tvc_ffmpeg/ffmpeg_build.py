"""Build an FFmpeg with TVC in it: ``tvc ffmpeg build``.

Steps: get FFmpeg's Debian source package when no tree is given (through a private apt
configuration in the cache, never touching /etc/apt), graft ffmpeg_filter/ into it
(ffmpeg_filter/graft.py), configure a small build with libtvc (found through
``tvc config --pkg-config-path``, with an rpath to libtvc's directory) plus the common
decoders, demuxers, muxers, parsers and protocols, and the external codecs whose dev
packages are installed, build it with every core, install ``ffmpeg`` and ``ffprobe``.

A finished build is cached under a key of (FFmpeg version, graft hash, libtvc path,
configure options), so a second call, and the test session, reuse it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from .errors import FFmpegBuildError

# The Debian release whose FFmpeg is fetched when no tree is given: the one this machine runs
# (bookworm = FFmpeg 5.1); trixie gives 7.1.
DEFAULT_SUITE = "bookworm"

# What a user needs beside libtvc: reading the usual inputs and writing the containers that
# carry TVC. Everything else stays out, which keeps the build near two minutes on 2 cores.
DECODERS = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "mjpeg", "png", "rawvideo",
            "aac", "mp3", "opus", "vorbis", "flac", "pcm_s16le", "wrapped_avframe")
ENCODERS = ("rawvideo", "wrapped_avframe", "png", "pcm_s16le", "ffv1")
DEMUXERS = ("mov", "matroska", "mpegts", "nut", "avi", "yuv4mpegpipe", "rawvideo", "image2", "h264",
            "hevc", "ivf", "flv", "wav", "ogg", "mp3", "aac", "concat", "lavfi")
MUXERS = ("matroska", "mpegts", "nut", "yuv4mpegpipe", "rawvideo", "mp4", "mov", "null", "framemd5",
          "framecrc", "image2", "wav")
PARSERS = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4video", "mpegvideo", "mjpeg", "png", "aac", "opus",
           "vorbis", "flac", "mpegaudio")
PROTOCOLS = ("file", "pipe", "udp", "tcp", "rtp", "data")
# setparams: FFmpeg 7.x takes an encoder's colour tags from the frames, so that is how a user sets them.
FILTERS = ("scale", "format", "null", "fps", "crop", "pad", "setpts", "setparams", "trim", "testsrc", "testsrc2", "color",
           "nullsrc", "aresample", "anull", "aformat", "setsar", "split", "select", "copy", "showinfo")
BSFS = ("h264_mp4toannexb", "hevc_mp4toannexb", "aac_adtstoasc", "extract_extradata", "null")
# pkg-config name -> (configure switch, components it brings)
EXTERNAL = {
    "x264": ("--enable-libx264", ("encoder=libx264",)),
    "x265": ("--enable-libx265", ("encoder=libx265",)),
    "dav1d": ("--enable-libdav1d", ("decoder=libdav1d",)),
    "SvtAv1Enc": ("--enable-libsvtav1", ("encoder=libsvtav1",)),
}
GPL_LIBS = ("x264", "x265")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildResult:
    ffmpeg: Path
    ffprobe: Path
    prefix: Path
    version: str
    seconds: float
    cached: bool


def cache_dir() -> Path:
    """Where sources and builds are kept: $TVC_CACHE_DIR, else ~/.cache/tvc_ffmpeg, /ffmpeg."""
    if os.environ.get("TVC_CACHE_DIR"):
        root = Path(os.environ["TVC_CACHE_DIR"])
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "tvc_ffmpeg"
    return root / "ffmpeg"


def filter_dir() -> Path:
    """ffmpeg_filter/: installed inside the package, or the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "ffmpeg_filter", here.parent.parent / "ffmpeg_filter"):
        if (candidate / "graft.py").is_file():
            return candidate
    raise FFmpegBuildError("ffmpeg_filter/ (graft.py and the FFmpeg sources) is not installed with this package")


def load_graft():
    """graft.py as a module (it is plain Python kept beside the C files it copies)."""
    path = filter_dir() / "graft.py"
    spec = importlib.util.spec_from_file_location("tvc_ffmpeg_graft", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# ------------------------------------------------------------------ source


def fetch_debian_source(suite: str = DEFAULT_SUITE, progress: Progress = print) -> Path:
    """FFmpeg's Debian source package, unpacked under the cache; returns the tree.

    A private apt configuration (its own source list, lists and archive dirs in the cache)
    asks for the source package only, so the system's apt setup is never touched."""
    base = cache_dir() / "debian" / suite
    for tree in sorted(base.glob("src/ffmpeg-*/")):
        if (tree / "configure").is_file():
            return tree
    if not shutil.which("apt-get"):
        raise FFmpegBuildError("apt-get is not available: give an FFmpeg source tree with --source DIR")
    for d in ("parts", "lists/partial", "cache/archives/partial", "src"):
        (base / d).mkdir(parents=True, exist_ok=True)
    (base / "parts" / "debian.sources").write_text(
        "Types: deb-src\nURIs: http://deb.debian.org/debian\n"
        f"Suites: {suite}\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    conf = base / "apt.conf"
    conf.write_text(
        'Dir::Etc::SourceList "/dev/null";\n'
        f'Dir::Etc::SourceParts "{base / "parts"}";\n'
        f'Dir::State::Lists "{base / "lists"}";\n'
        f'Dir::Cache "{base / "cache"}";\n'
    )
    env = dict(os.environ, APT_CONFIG=str(conf))
    progress(f"fetching FFmpeg's Debian source package ({suite})")
    _run(["apt-get", "update", "-q"], base, env, base / "apt.log", "apt-get update")
    _run(["apt-get", "source", "--download-only", "-q", "ffmpeg"], base / "src", env, base / "apt.log",
         "apt-get source")
    tarballs = [t for t in sorted((base / "src").glob("ffmpeg_*.orig.tar.*")) if not t.name.endswith(".asc")]
    if not tarballs:
        raise FFmpegBuildError(f"apt-get source gave no ffmpeg_*.orig.tar.* in {base / 'src'}")
    # Debian's own patches are packaging matters; the upstream tarball is what we graft.
    with tarfile.open(tarballs[-1]) as tar:
        tar.extractall(base / "src", filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(base / "src")
    trees = [t for t in sorted((base / "src").glob("ffmpeg-*/")) if (t / "configure").is_file()]
    if not trees:
        raise FFmpegBuildError(f"the source package unpacked no ffmpeg-*/ tree in {base / 'src'}")
    return trees[-1]


# ------------------------------------------------------------------ libtvc


def libtvc_location() -> Tuple[str, str]:
    """(directory of tvc.pc, directory of libtvc.so) of the libtvc installed in the package:
    what ``tvc config --pkg-config-path`` and ``--libdir`` print."""
    from .cli.config import install_prefix

    prefix = install_prefix()  # raises with what is missing when libtvc was not built
    return str(prefix / "lib" / "pkgconfig"), str(prefix / "lib")


def _pkg_config(args: Sequence[str], pc_path: Optional[str] = None) -> Optional[str]:
    env = dict(os.environ)
    if pc_path:
        env["PKG_CONFIG_PATH"] = pc_path + (os.pathsep + env["PKG_CONFIG_PATH"] if env.get("PKG_CONFIG_PATH") else "")
    try:
        return subprocess.run(["pkg-config", *args], capture_output=True, text=True, check=True, env=env).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


# ------------------------------------------------------------------ configure / make


def configure_args(libdir: str) -> List[str]:
    """configure's options: a small build with libtvc and the externals installed here. No
    --prefix: the binaries are copied out, so changing the prefix rebuilds nothing."""
    args = [
        "--disable-everything", "--disable-doc", "--disable-debug", "--disable-ffplay",
        "--disable-autodetect", "--disable-shared", "--enable-static",
        "--enable-libtvc",
        "--enable-encoder=libtvc", "--enable-decoder=libtvc", "--enable-muxer=tvc", "--enable-demuxer=tvc",
        f"--extra-ldflags=-Wl,-rpath,{libdir}",
        "--enable-indev=lavfi", "--enable-filter=" + ",".join(FILTERS),
    ]
    for kind, names in (("decoder", DECODERS), ("encoder", ENCODERS), ("demuxer", DEMUXERS),
                        ("muxer", MUXERS), ("parser", PARSERS), ("protocol", PROTOCOLS), ("bsf", BSFS)):
        args.append(f"--enable-{kind}=" + ",".join(names))
    if not shutil.which("nasm"):
        args.append("--disable-x86asm")  # builds without nasm, only slower (install-system-deps.sh adds it)
    gpl = False
    for pc_name, (switch, components) in EXTERNAL.items():
        if _pkg_config(["--exists", pc_name]) is not None:
            args.append(switch)
            args += [f"--enable-{c.split('=')[0]}={c.split('=')[1]}" for c in components]
            gpl |= pc_name in GPL_LIBS
    if gpl:
        args.append("--enable-gpl")
    return args


def _run(cmd: Sequence[str], cwd: Path, env: dict, log: Path, what: str) -> None:
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.run(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise FFmpegBuildError(f"{what} failed (exit {proc.returncode}); log: {log}\n" + "\n".join(tail))


def _make(tree: Path, jobs: int, env: dict, log: Path, progress: Progress) -> None:
    """make with a percentage: objects compiled so far out of those make -n would build."""
    dry = subprocess.run(["make", "-n"], cwd=tree, env=env, capture_output=True, text=True)
    total = max(1, len(re.findall(r"^(?:printf|echo).*\bCC\b", dry.stdout, flags=re.MULTILINE)) or
                dry.stdout.count(" -c -o "))
    done, shown = 0, -10
    with open(log, "ab") as out:
        proc = subprocess.Popen(["make", f"-j{jobs}"], cwd=tree, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if line.lstrip().startswith(b"CC"):
                done += 1
                pct = min(99, 100 * done // total)
                if pct >= shown + 10:
                    progress(f"make: {pct}%")
                    shown = pct
        proc.wait()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise FFmpegBuildError(f"make failed (exit {proc.returncode}); log: {log}\n" + "\n".join(tail))


def build_key(version: str, graft_hash: str, libdir: str, args: Sequence[str]) -> str:
    blob = json.dumps([version, graft_hash, libdir, list(args)]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def build(source: Optional[Path] = None, prefix: Optional[Path] = None, jobs: Optional[int] = None,
          suite: str = DEFAULT_SUITE, progress: Progress = print) -> BuildResult:
    """Graft, configure, make and install; reuse the cached install when nothing changed.

    The tree is built in place and configure runs again only when its options changed, so
    an edit to ffmpeg_filter/ recompiles one file and relinks."""
    start = time.monotonic()
    graft = load_graft()
    tree = Path(source).resolve() if source is not None else fetch_debian_source(suite, progress)
    version = graft.ffmpeg_version(tree)
    pc_path, libdir = libtvc_location()
    ghash = graft.graft_hash()
    args = configure_args(libdir)
    key = build_key(version, ghash, libdir, args)
    default_prefix = prefix is None
    prefix = Path(prefix).resolve() if prefix is not None else cache_dir() / "builds" / f"{version}-{key}"
    stamp = prefix / "share" / "tvc-ffmpeg-build.json"
    ffmpeg, ffprobe = prefix / "bin" / "ffmpeg", prefix / "bin" / "ffprobe"
    if stamp.is_file() and ffmpeg.is_file() and ffprobe.is_file():
        if json.loads(stamp.read_text()).get("key") == key:
            progress(f"FFmpeg {version} with TVC is already built in {prefix}")
            return BuildResult(ffmpeg, ffprobe, prefix, version, time.monotonic() - start, True)

    try:
        changed = graft.graft(tree)
    except graft.GraftError as exc:
        raise FFmpegBuildError(f"cannot graft TVC into {tree}: {exc}") from exc
    progress(f"grafted TVC into FFmpeg {version} at {tree} ({len(changed)} files changed)")

    jobs = jobs or os.cpu_count() or 1
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = pc_path + (os.pathsep + env["PKG_CONFIG_PATH"] if env.get("PKG_CONFIG_PATH") else "")
    log = tree / "tvc-build.log"
    log.write_text("")
    configured = tree / "tvc-configure.json"
    if not configured.is_file() or json.loads(configured.read_text()) != args or not (tree / "ffbuild" / "config.mak").is_file():
        progress("configure ...")
        configured.unlink(missing_ok=True)
        _run(["./configure", *args], tree, env, log, "configure")
        configured.write_text(json.dumps(args))
    progress(f"make -j{jobs} (log: {log})")
    _make(tree, jobs, env, log, progress)
    (prefix / "bin").mkdir(parents=True, exist_ok=True)
    for name, target in (("ffmpeg", ffmpeg), ("ffprobe", ffprobe)):
        tmp = target.with_name(f".{name}.tmp")
        shutil.copy2(tree / name, tmp)
        os.replace(tmp, target)  # a running ffmpeg keeps its old inode
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"key": key, "version": version, "graft": ghash, "libtvc": libdir,
                                 "source": str(tree)}, indent=1))
    if default_prefix:
        # Builds of this version with an older graft or libtvc are stale: keep the cache small.
        for old in prefix.parent.glob(f"{version}-*"):
            if old != prefix:
                shutil.rmtree(old, ignore_errors=True)
    return BuildResult(ffmpeg, ffprobe, prefix, version, time.monotonic() - start, False)


__all__ = ["BuildResult", "FFmpegBuildError", "build", "cache_dir", "fetch_debian_source", "filter_dir",
           "load_graft"]
