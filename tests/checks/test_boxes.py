"""Boxes: formats, units, IoU as pycocotools computes it, and the problems reported."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from amlas.checks._box_problems import SHOWN, box_problems, require_valid
from amlas.checks._boxes import (
    BOX_FORMATS,
    Boxes,
    BoxFormat,
    from_xyxy,
    pair_iou,
    to_normalised,
    to_pixels,
    to_xyxy,
)
from amlas.errors import ValueProblem

coordinates = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)
sizes = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)
xywh = st.lists(st.tuples(coordinates, coordinates, sizes, sizes), min_size=1, max_size=20).map(
    lambda rows: np.array(rows, dtype=np.float64)
)
grid_boxes = hnp.arrays(np.float64, (30, 4), elements=st.integers(0, 40).map(float)).map(
    lambda a: np.c_[np.minimum(a[:, :2], a[:, 2:]), np.maximum(a[:, :2], a[:, 2:])]
)


def test_formats_convert_to_corners() -> None:
    box = np.array([[10.0, 20.0, 30.0, 40.0]])
    np.testing.assert_array_equal(to_xyxy(box, "xywh"), [[10, 20, 40, 60]])
    np.testing.assert_array_equal(to_xyxy(box, "cxcywh"), [[-5, 0, 25, 40]])
    np.testing.assert_array_equal(to_xyxy(box, "xyxy"), box)
    np.testing.assert_array_equal(from_xyxy([[10, 20, 40, 60]], "xywh"), box)
    np.testing.assert_array_equal(from_xyxy([[10, 20, 40, 60]], "cxcywh"), [[25, 40, 30, 40]])
    assert to_xyxy(np.zeros(0), "xywh").shape == (0, 4)


@given(xywh, st.sampled_from(BOX_FORMATS))
def test_formats_round_trip(values: np.ndarray, box_format: BoxFormat) -> None:
    corners = to_xyxy(values, "xywh")
    back = to_xyxy(from_xyxy(corners, box_format), box_format)
    np.testing.assert_allclose(back, corners, rtol=1e-12, atol=1e-9)


def test_units_scale_x_by_width_and_y_by_height() -> None:
    normalised = np.array([[0.1, 0.2, 0.5, 1.0], [0.0, 0.0, 1.0, 1.0]])
    pixels = to_pixels(normalised, width=[200, 640], height=[100, 480])
    np.testing.assert_array_equal(pixels, [[20, 20, 100, 100], [0, 0, 640, 480]])
    np.testing.assert_allclose(to_normalised(pixels, [200, 640], [100, 480]), normalised)
    np.testing.assert_array_equal(to_pixels(normalised, 10, 10), normalised * 10)
    with pytest.raises(ValueProblem, match=r"image size 0\.0 x 100\.0 at row 0"):
        to_pixels(normalised, width=[0, 640], height=[100, 480])


def test_iou_is_pycocotools_bbiou_to_the_bit() -> None:
    mask = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(4)
    dt = to_xyxy(np.c_[rng.integers(0, 80, (200, 2)), rng.integers(0, 40, (200, 2))] / 4, "xywh")
    gt = to_xyxy(np.c_[rng.integers(0, 80, (50, 2)), rng.integers(0, 40, (50, 2))] / 4, "xywh")
    crowd = rng.random(50) < 0.3
    expected = mask.iou(from_xyxy(dt, "xywh"), from_xyxy(gt, "xywh"), crowd.astype(np.uint8))
    d, g = np.meshgrid(np.arange(200), np.arange(50), indexing="ij")
    got = pair_iou(dt[d.ravel()], gt[g.ravel()], crowd[g.ravel()]).reshape(200, 50)
    np.testing.assert_array_equal(got, expected)
    assert (got > 0).mean() > 0.1


@settings(max_examples=80)
@given(grid_boxes, grid_boxes)
def test_iou_is_symmetric_bounded_and_one_on_itself(a: np.ndarray, b: np.ndarray) -> None:
    ab, ba = pair_iou(a, b), pair_iou(b, a)
    np.testing.assert_array_equal(ab, ba)
    assert ((ab >= 0) & (ab <= 1)).all()
    has_area = (a[:, 2] > a[:, 0]) & (a[:, 3] > a[:, 1])
    np.testing.assert_array_equal(pair_iou(a, a)[has_area], 1.0)
    np.testing.assert_array_equal(pair_iou(a, a)[~has_area], 0.0)  # COCO: empty, IoU 0
    inside = pair_iou(a, b, np.ones(len(a), bool))  # crowd: share of the detection covered
    assert (inside >= ab).all()


def boxes(**fields: object) -> Boxes:
    base: dict[str, object] = {
        "image": [0, 0, 1],
        "cls": [0, 1, 0],
        "xyxy": [[0, 0, 10, 10], [5, 5, 8, 9], [1, 1, 2, 2]],
        "n_images": 2,
    }
    return Boxes(**{**base, **fields})  # type: ignore[arg-type]


def test_good_boxes_have_no_problem() -> None:
    assert box_problems(boxes()) == []
    assert box_problems(boxes(score=[0.9, -3.0, 12.0])) == []  # any finite score
    require_valid(boxes(score=[0.9, 0.1, 0.5]))


@pytest.mark.parametrize(
    ("fields", "kind", "rows", "quoted"),
    [
        ({"image": [0, 2, -1]}, "image", [1, 2], "row 1 image 2, row 2 image -1"),
        ({"cls": [0, -2, 0]}, "class", [1], "row 1 class -2"),
        ({"cls": [0, 1, 3]}, "class", [2], "class code outside 0..2 in 1 row(s): row 2 class 3"),
        (
            {"xyxy": [[0, 0, np.nan, 1], [0, 0, 1, 1], [np.inf, 0, 1, 1]]},
            "coordinates",
            [0, 2],
            "row 0 (0, 0, nan, 1)",
        ),
        (
            {"xyxy": [[0, 0, 1, 1], [5, 0, 4, 1], [0, 3, 1, 2]]},
            "size",
            [1, 2],
            "row 1 (5, 0, 4, 1)",
        ),
        ({"score": [0.5, np.nan, np.inf]}, "score", [1, 2], "row 1 score nan, row 2 score inf"),
        ({"score": [0.5, 0.5, 0.5], "crowd": [False, True, False]}, "crowd", [1], "row 1"),
        (
            {
                "image": [0, 0, 0],
                "cls": [1, 1, 1],
                "xyxy": [[0, 0, 1, 1]] * 3,
                "score": [0.5, -0.0, 0.0],
            },
            "duplicate",
            [2],
            "row 2 (0, 0, 1, 1)",
        ),
        ({"xyxy": [[0, 0, 0, 1], [0, 0, 1, 1], [2, 2, 3, 2]]}, "zero_size", [0, 2], "row 0"),
    ],
)
def test_each_problem_lists_its_rows(
    fields: dict[str, object], kind: str, rows: list[int], quoted: str
) -> None:
    problems = box_problems(boxes(**fields), what="detections", n_classes=3)
    assert [p.kind for p in problems] == [kind]
    assert problems[0].rows.tolist() == rows
    assert problems[0].message.startswith("detections: ")
    assert quoted in problems[0].message
    assert problems[0].severity == ("warning" if kind == "zero_size" else "error")


def test_require_valid_raises_every_error_and_not_warnings() -> None:
    require_valid(boxes(xyxy=[[0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]))  # only a warning
    bad = boxes(image=[0, 5, 0], xyxy=[[0, 0, 1, 1], [0, 0, 1, 1], [3, 0, 1, 1]])
    with pytest.raises(ValueProblem, match=r"image index outside 0..1 .* negative width") as e:
        require_valid(bad, what="ground truth", path="data/gt.json")
    assert e.value.diagnostic.location.path == "data/gt.json"
    assert e.value.diagnostic.code == "R094"


def test_a_long_list_of_rows_is_cut() -> None:
    k = 40
    many = Boxes(
        image=np.zeros(k, int),
        cls=np.zeros(k, int),
        xyxy=np.ones((k, 4)) * [1, 1, 0, 0],
        n_images=1,
    )
    (problem,) = box_problems(many)
    assert problem.message.count("row ") == SHOWN
    assert f"and {k - SHOWN} more" in problem.message


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2), st.integers(0, 1), st.integers(0, 2), st.sampled_from([0.5, 1.0])
        ),
        max_size=40,
    )
)
def test_duplicates_are_exactly_the_rows_seen_before(
    rows: list[tuple[int, int, int, float]],
) -> None:
    k = len(rows)
    image, cls, x, score = (
        (np.array(c) for c in zip(*rows, strict=True)) if rows else [np.zeros(0)] * 4
    )
    dt = Boxes(
        image=np.asarray(image, int),
        cls=np.asarray(cls, int),
        xyxy=np.c_[x, x, x + 1, x + 1].reshape(-1, 4) if k else np.zeros((0, 4)),
        n_images=3,
        score=np.asarray(score, float),
    )
    seen = [any(rows[j] == rows[i] for j in range(i)) for i in range(k)]
    problems = [p for p in box_problems(dt) if p.kind == "duplicate"]
    found = problems[0].rows.tolist() if problems else []
    assert found == [i for i in range(k) if seen[i]]


def test_columns_must_agree_and_indices_be_integers() -> None:
    with pytest.raises(ValueProblem, match=r"cls has 2 rows and image has 3"):
        boxes(cls=[0, 1])
    with pytest.raises(ValueProblem, match=r"attributes\['distance_m'\] has 1 rows"):
        boxes(attributes={"distance_m": [3.0]})
    with pytest.raises(ValueProblem, match=r"image holds float64 values"):
        boxes(image=[0.0, 0.5, 1.0])
    with pytest.raises(ValueProblem, match=r"boxes of shape \(3, 3\)"):
        boxes(xyxy=np.zeros((3, 3)))
    with pytest.raises(ValueProblem, match="box_format='yolo'"):
        to_xyxy(np.zeros((1, 4)), "yolo")  # type: ignore[arg-type]


def test_take_keeps_every_column() -> None:
    b = boxes(score=[0.1, 0.2, 0.3], crowd=[False, True, False], attributes={"d": [1, 2, 3]})
    part = b.take([2, 0])
    assert part.image.tolist() == [1, 0]
    assert part.score is not None
    assert part.score.tolist() == [0.3, 0.1]
    assert part.crowd.tolist() == [False, False]
    assert part.attributes["d"].tolist() == [3, 1]
    assert part.n_images == 2
    made = Boxes.from_values([[0, 0, 2, 3]], image=[1], classes=[0], n_images=2, box_format="xywh")
    assert made.xyxy.tolist() == [[0, 0, 2, 3]]
    assert made.crowd.tolist() == [False]
    assert len(made) == 1
