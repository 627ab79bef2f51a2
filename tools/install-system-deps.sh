#!/bin/sh
# Installs the Debian packages the test suite needs on a machine that has nothing:
# the `ffmpeg` command line (the classic-codec anchors of the RD harness and their tests,
# libaom included, come from it), and what `tvc ffmpeg build` needs to fetch FFmpeg's Debian
# source package and build it (the ffmpeg-marked tests run it): nasm for FFmpeg's x86
# assembly, pkg-config to find libtvc, dpkg-dev and xz-utils for `apt-get source` and its
# tarballs, the archive keyring its private apt configuration verifies with, make and a C
# compiler. Part of the README's test command, so CI installs them too.
#
# Runs apt-get only when something is missing; without root or apt-get it says what to
# install and exits 0, and the tests that need the missing tools are skipped.
set -eu

packages="ffmpeg nasm pkg-config dpkg-dev xz-utils debian-archive-keyring make gcc"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: please install:$missing (Debian/Ubuntu: apt-get install$missing);" \
         "tests that need them are skipped" >&2
    exit 0
fi
echo "install-system-deps: apt-get install$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
