#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Graft TVC into an FFmpeg source tree: copy the libtvc wrapper and the .tvc (de)muxer in,
and register them (and TVC's carriage in Matroska, NUT and MPEG-TS) by anchors.

Every edit finds one known line of FFmpeg's own source and inserts after (or before) it,
never by line number, so the same script fits FFmpeg 5.1 (Debian 12) and 7.1 (Debian 13).
A second run changes nothing. A tree whose anchor line is missing or not unique is refused
with the file and the anchor named, before any file is written.

Plain Python with no imports from the tvc_ffmpeg package, so it runs wherever python3 does:

    python3 graft.py /path/to/ffmpeg-7.1.5          # graft
    python3 graft.py --check /path/to/ffmpeg-7.1.5  # exit 0 if grafted, 1 if not
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent

# Files copied into the tree: source under ffmpeg_filter/ -> same path in the tree.
COPIED = (
    "libavcodec/libtvc.c",
    "libavformat/tvcdec.c",
    "libavformat/tvcenc.c",
    "libavformat/tvcformat.h",
)


class GraftError(Exception):
    """The tree is not one this script knows: which file and which anchor."""


@dataclass(frozen=True)
class Edit:
    path: str
    anchor: str  # regex matched against whole lines; must match exactly one line
    text: str  # inserted lines; "{1}" etc. are filled from the anchor's groups
    before: bool = False  # insert before the anchor (and the blank lines above it)


EDITS: Tuple[Edit, ...] = (
    Edit("configure", r"  --enable-libdav1d +enable AV1 decoding via libdav1d \[no\]",
         "  --enable-libtvc          enable TVC encoding and decoding via libtvc [no]"),
    Edit("configure", r"    libdav1d", "    libtvc"),
    Edit("configure", r'libdav1d_decoder_deps="libdav1d"',
         'libtvc_decoder_deps="libtvc"\nlibtvc_encoder_deps="libtvc"'),
    Edit("configure", r"enabled libdav1d +&& require_pkg_config libdav1d .*",
         'enabled libtvc            && require_pkg_config libtvc tvc "tvc/tvc.h" tvc_version'),
    Edit("libavcodec/Makefile", r"OBJS-\$\(CONFIG_LIBDAV1D_DECODER\) .*",
         "OBJS-$(CONFIG_LIBTVC_DECODER)             += libtvc.o\n"
         "OBJS-$(CONFIG_LIBTVC_ENCODER)             += libtvc.o"),
    Edit("libavcodec/allcodecs.c", r"extern const (\w+) ff_libdav1d_decoder;",
         "extern const {1} ff_libtvc_encoder;\nextern const {1} ff_libtvc_decoder;"),
    # A new id goes last among the video ids (the descriptors must stay in id order).
    Edit("libavcodec/codec_id.h", r'    /\* various PCM "codecs" \*/', "    AV_CODEC_ID_TVC,", before=True),
    Edit("libavcodec/codec_desc.c", r'    /\* various PCM "codecs" \*/',
         "    {\n"
         "        .id        = AV_CODEC_ID_TVC,\n"
         "        .type      = AVMEDIA_TYPE_VIDEO,\n"
         '        .name      = "tvc",\n'
         '        .long_name = NULL_IF_CONFIG_SMALL("TVC (token-based video codec)"),\n'
         "        .props     = AV_CODEC_PROP_INTRA_ONLY | AV_CODEC_PROP_LOSSY,\n"
         "    },",
         before=True),
    Edit("libavformat/Makefile", r"OBJS-\$\(CONFIG_IVF_MUXER\) .*",
         "OBJS-$(CONFIG_TVC_DEMUXER)               += tvcdec.o\n"
         "OBJS-$(CONFIG_TVC_MUXER)                 += tvcenc.o"),
    Edit("libavformat/allformats.c", r"extern const (\w+) +ff_ivf_demuxer;",
         "extern const {1} ff_tvc_demuxer;"),
    Edit("libavformat/allformats.c", r"extern const (\w+) +ff_ivf_muxer;",
         "extern const {1} ff_tvc_muxer;"),
    Edit("libavformat/matroska.c", r'    \{"V_FFV1" +, AV_CODEC_ID_FFV1\},',
         '    {"V_TVC"            , AV_CODEC_ID_TVC},'),
    Edit("libavformat/nut.c", r"const AVCodecTag ff_nut_video_tags\[\] = \{",
         "    { AV_CODEC_ID_TVC,              MKTAG('T', 'V', 'C', '0') },"),
    Edit("libavformat/mpegts.c", r"    \{ MKTAG\('d', 'r', 'a', 'c'\), AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_DIRAC \},",
         "    { MKTAG('T', 'V', 'C', '0'), AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_TVC   },"),
    Edit("libavformat/mpegtsenc.c", r"    case AV_CODEC_ID_DIRAC:",
         "    case AV_CODEC_ID_TVC:\n        stream_type = STREAM_TYPE_PRIVATE_DATA;\n        break;",
         before=True),
    Edit("libavformat/mpegtsenc.c", r"            if \(stream_type == STREAM_TYPE_VIDEO_DIRAC\) \{",
         "            if (st->codecpar->codec_id == AV_CODEC_ID_TVC) {\n"
         "                put_registration_descriptor(&q, MKTAG('T', 'V', 'C', '0'));\n"
         "            } else",
         before=True),
)


def graft_hash() -> str:
    """sha256 of this script and every copied file: names what a build was grafted with."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for rel in COPIED:
        h.update(rel.encode() + b"\0" + (HERE / rel).read_bytes())
    return h.hexdigest()


def _apply(text: str, edit: Edit) -> Tuple[str, bool]:
    """The file's text after the edit, and whether it changed."""
    matches = list(re.finditer(rf"^{edit.anchor}$", text, flags=re.MULTILINE))
    if len(matches) != 1:
        found = "not found" if not matches else f"found {len(matches)} times"
        raise GraftError(f"{edit.path}: anchor line {edit.anchor!r} {found}: not an FFmpeg tree this graft knows")
    m = matches[0]
    insert = edit.text
    for i, group in enumerate(m.groups(), start=1):
        insert = insert.replace("{%d}" % i, group)
    block = insert + "\n"
    if edit.before:
        # Keep the blank line that separates the anchor from what precedes it below us.
        start = m.start()
        while start >= 2 and text[start - 2 : start] == "\n\n":
            start -= 1
        if text[:start].endswith(block):
            return text, False
        return text[:start] + block + text[start:], True
    end = m.end() + 1
    if text[end : end + len(block)] == block:
        return text, False
    return text[:end] + block + text[end:], True


def plan(tree: Path) -> Dict[str, str]:
    """Every file the graft would write (relative path -> new content), checking all anchors
    first so a refused tree is left untouched."""
    if not (tree / "configure").is_file() or not (tree / "libavcodec").is_dir():
        raise GraftError(f"{tree}: not an FFmpeg source tree (no configure or libavcodec/)")
    texts: Dict[str, str] = {}
    changed: Dict[str, str] = {}
    for edit in EDITS:
        if edit.path not in texts:
            path = tree / edit.path
            if not path.is_file():
                raise GraftError(f"{edit.path}: missing from {tree}: not an FFmpeg tree this graft knows")
            texts[edit.path] = path.read_text(encoding="utf-8", errors="surrogateescape")
        texts[edit.path], did = _apply(texts[edit.path], edit)
        if did:
            changed[edit.path] = texts[edit.path]
    for rel in COPIED:
        source = (HERE / rel).read_text(encoding="utf-8")
        target = tree / rel
        if not target.is_file() or target.read_text(encoding="utf-8", errors="replace") != source:
            changed[rel] = source
    return changed


def graft(tree: Path) -> List[str]:
    """Grafts TVC into the tree; returns the files it changed (empty on a grafted tree)."""
    changed = plan(tree)
    for rel, text in changed.items():
        (tree / rel).write_text(text, encoding="utf-8", errors="surrogateescape")
    return sorted(changed)


def ffmpeg_version(tree: Path) -> str:
    """The tree's release version (the RELEASE file), or 'unknown'."""
    release = tree / "RELEASE"
    return release.read_text().strip() if release.is_file() else "unknown"


def main(argv: List[str] = None) -> int:
    p = argparse.ArgumentParser(description="Graft TVC (libtvc codec, .tvc format, MKV/NUT/TS carriage) "
                                "into an FFmpeg 5.1 or 7.1 source tree.")
    p.add_argument("tree", type=Path, help="the FFmpeg source tree")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 when the tree is not grafted")
    args = p.parse_args(argv)
    try:
        if args.check:
            pending = sorted(plan(args.tree))
            print("grafted" if not pending else "not grafted: " + ", ".join(pending))
            return 1 if pending else 0
        changed = graft(args.tree)
    except GraftError as exc:
        print(f"graft.py: error: {exc}", file=sys.stderr)
        return 2
    version = ffmpeg_version(args.tree)
    if changed:
        print(f"grafted TVC into FFmpeg {version}: {len(changed)} files changed")
    else:
        print(f"FFmpeg {version} tree already grafted: nothing changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
