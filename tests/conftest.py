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
