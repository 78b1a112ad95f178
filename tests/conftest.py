"""Fixtures shared by the test files: a real classifier and an untrained (fast) skeleton painter."""
import importlib

import pytest

from strokeparam import create_painter, load_classifier


def pytest_configure(config):
    """The tests run against real Lucent; say how to get it rather than fail file by file."""
    try:
        importlib.import_module("lucent.optvis.render")
    except ImportError as exc:
        raise pytest.UsageError(
            f"the tests need Lucent (torch-lucent 0.1.8): {exc}. It is not in the test extra because its "
            "metadata pins kornia<=0.4.1 and test tools as runtime dependencies, which pip cannot resolve "
            "beside current kornia; `make setup` installs it with --no-deps") from None


@pytest.fixture(scope="module")
def model():
    return load_classifier("efficientnet_lite0")


@pytest.fixture(scope="module")
def painter():
    return create_painter("skeleton", pretrained=False)
