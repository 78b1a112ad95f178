import numpy as np
import pytest
import torch

from strokeparam import actions as A


def test_fields_defined_once():
    assert A.NUM_FIELDS == 12 and len(set(A.FIELDS)) == 12
    assert A.FIELDS[A.SIZE] == "size"
    assert A.FIELDS[A.COLOR] == ("red", "green", "blue")
    assert A.FIELDS[A.POINTS] == ("x0", "y0", "x1", "y1", "x2", "y2")


@pytest.mark.parametrize("bad, needle", [
    (np.zeros((3, 11)), "shape"),
    (np.zeros((2, 3, 12)), "shape"),
    (np.array([["a"] * 12]), "dtype"),
    ([[0.5] * 11 + [float("nan")]], "y2"),
    ([[0.5] * 12, [0.5, 1.5] + [0.5] * 10], "actions[1] field 'pressure_end'"),
    ([[0.5] * 2 + [-0.1] + [0.5] * 9], "size"),
    ([[0.5] * 12, [0.5] * 6 + [float("inf")] + [0.5] * 5], "x0"),
])
def test_validate_names_row_and_field(bad, needle):
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        A.validate(bad)


def test_validate_accepts_tensor_and_single_action():
    out = A.validate(torch.full((12,), 0.5))
    assert out.shape == (1, 12)


def test_mapping_to_mypaint_units_scales_with_canvas():
    a = np.array([0.2, 0.8, 1.0, 1, 0, 0, 0.0, 0.5, 0.5, 0.5, 1.0, 0.5])
    small, big = A.to_mypaint(a, 64), A.to_mypaint(a, 256)
    assert np.allclose(small.points, [[0, 32], [32, 32], [64, 32]])
    assert np.allclose(big.points, small.points * 4)
    assert small.radius == pytest.approx(A.RADIUS_MAX)
    assert big.radius == pytest.approx(4 * A.RADIUS_MAX)
    assert A.radius_pixels(0.0) == pytest.approx(A.RADIUS_MIN)
    assert small.pressures == (0.2, 0.8) and small.color == (1.0, 0.0, 0.0)


def test_quantize_levels_numpy_and_torch():
    acts = A.random_actions(200, seed=0)
    q = A.quantize(acts, pressure_levels=10, size_levels=4, color_levels=None, grid=32)
    assert len(np.unique(q[:, A.PRESSURE])) <= 10
    assert set(np.unique(q[:, A.SIZE])) <= set(np.linspace(0, 1, 4).astype(np.float32))
    assert np.array_equal(q[:, A.COLOR], acts[:, A.COLOR])
    assert np.allclose(q[:, A.POINTS] * 31, np.round(q[:, A.POINTS] * 31), atol=1e-4)
    qt = A.quantize(torch.from_numpy(acts), size_levels=4)
    assert torch.allclose(qt, torch.from_numpy(q), atol=1e-6)
    with pytest.raises(ValueError, match="size_levels"):
        A.quantize(acts, size_levels=1)
