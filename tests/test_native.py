"""Builds and runs the C++ side from the normal test command: the native unit
tests (also on the integer nets' portable kernel), the fuzz-corpus replay, both
also under ASan + UBSan, and the public C header compiled on its own as C99."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"


def _build(build_dir: Path, *extra: str) -> Path:
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(
        ["cmake", "-S", str(ROOT), "-B", str(build_dir), *gen, "-DTVC_BUILD_TESTS=ON",
         "-DTVC_WITH_CUDA=OFF", "-DTVC_WITH_TENSORRT=OFF", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
         *extra],
        check=True, capture_output=True, text=True,
    )
    jobs = str(os.cpu_count() or 1)
    proc = subprocess.run(["cmake", "--build", str(build_dir), "-j", jobs],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return build_dir


@pytest.fixture(scope="session")
def plain_build(tmp_path_factory):
    if not shutil.which("cmake"):
        pytest.fail("cmake is required for the native tests (pip install cmake)")
    return _build(tmp_path_factory.mktemp("native"))


@pytest.fixture(scope="session")
def sanitizer_build(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("native-asan"), "-DTVC_SANITIZE=ON")


def _run(exe: Path, *args: str) -> str:
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout


# tvc_native_tests_portable: the same tests with the integer nets' portable
# dot-product loop (TVC_INTNET_PORTABLE) in place of the SSE2 kernel.
@pytest.mark.parametrize("build", ["plain_build", "sanitizer_build"])
@pytest.mark.parametrize("exe", ["tvc_native_tests", "tvc_native_tests_portable"])
def test_native_unit_tests(build, exe, request):
    out = _run(request.getfixturevalue(build) / exe)
    assert "native tests passed" in out


def _intnet_digest(out: str) -> str:
    match = re.search(r"^intnet kernel digest ([0-9a-f]{8}) over (\d+) runs", out, re.M)
    assert match, out[-2000:]
    assert int(match.group(2)) > 1000
    return match.group(1)


def test_intnet_kernels_agree(plain_build, sanitizer_build):
    """Both dot-product kernels, in both builds, give the same bits on every
    output of the native tests' random nets (each is also checked against the
    spec loop inside the test program)."""
    digests = {(build.name, exe): _intnet_digest(_run(build / exe))
               for build in (plain_build, sanitizer_build)
               for exe in ("tvc_native_tests", "tvc_native_tests_portable")}
    assert len(set(digests.values())) == 1, digests


@pytest.mark.parametrize("build", ["plain_build", "sanitizer_build"])
@pytest.mark.parametrize("target", ["packet", "rans", "continuous", "ccm"])
def test_fuzz_corpus_replay(build, target, request):
    corpus = CORPUS / target
    files = list(corpus.iterdir())
    assert len(files) >= 10, f"fuzz corpus {corpus} is missing or tiny"
    out = _run(request.getfixturevalue(build) / f"tvc_replay_{target}", str(corpus))
    assert f"replayed {len(files)} inputs" in out


def test_public_header_compiles_as_c99(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "a C compiler is needed"
    src = tmp_path / "use_header.c"
    src.write_text('#include "tvc/tvc.h"\nint main(void) { return TVC_OK; }\n')
    proc = subprocess.run(
        [cc, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror",
         "-I", str(ROOT / "csrc" / "include"), "-c", str(src), "-o", str(tmp_path / "x.o")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
