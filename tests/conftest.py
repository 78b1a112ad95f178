"""Fixtures shared by the test files: a real classifier and an untrained (fast) skeleton painter."""
import pytest

from strokeparam import create_painter, load_classifier


@pytest.fixture(scope="module")
def model():
    return load_classifier("efficientnet_lite0")


@pytest.fixture(scope="module")
def painter():
    return create_painter("skeleton", pretrained=False)
