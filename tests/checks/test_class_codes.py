"""The integer paths the metrics take (class codes from the decision, labels compared as
code points) give exactly what comparing the text gives (issue 16)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.checks import Predictions
from amlas.checks._datasets import text_equals
from amlas.checks._metrics import decide_codes, decide_labels, finite_rows

TEXT = st.text(alphabet=st.sampled_from(["a", "b", "é", "\U0001f600", "\x00", " "]), max_size=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, max_size=30), TEXT)
def test_text_equals_is_numpy_equality(values: list[str], name: str) -> None:
    array = np.array(values, dtype=np.str_) if values else np.zeros(0, dtype="<U1")
    expected = array == name
    np.testing.assert_array_equal(text_equals(array, name), expected)
    # the ways numpy may hold the same text: strided, wider, the other byte order
    np.testing.assert_array_equal(text_equals(array[::2], name), expected[::2])
    wide = array.astype("<U9")
    np.testing.assert_array_equal(text_equals(wide, name), expected)
    swapped = array.astype(array.dtype.newbyteorder(">"))
    np.testing.assert_array_equal(text_equals(swapped, name), expected)


def test_text_equals_ignores_trailing_nul_as_numpy_does() -> None:
    labels = np.array(["pos", "neg", "", "po"], dtype=np.str_)
    for name in ("pos", "pos\x00", "pos\x00\x00\x00\x00\x00", "", "\x00", "posx", "p"):
        np.testing.assert_array_equal(text_equals(labels, name), labels == name)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=40),
    st.sampled_from([None, 0.0, 0.3, 0.5, 1.0]),
    st.sampled_from([0, 1]),
)
def test_decided_codes_name_the_decided_labels(
    values: list[float], threshold: float | None, positive: int
) -> None:
    classes = ("neg", "positive")
    proba = np.array(values[: len(values) // 2 * 2], dtype=np.float64).reshape(-1, 2)
    codes = decide_codes(proba, classes, positive=classes[positive], threshold=threshold)
    labels = decide_labels(proba, classes, positive=classes[positive], threshold=threshold)
    np.testing.assert_array_equal(np.array(classes)[codes], labels)
    np.testing.assert_array_equal(finite_rows(proba), np.isfinite(proba).all(axis=1))


class _Labelled:
    """What ``Predictions.same_as_labels`` reads of a dataset."""

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels

    def label_is(self, name: str) -> np.ndarray:
        return self.labels == name


def test_masks_from_codes_equal_masks_from_text() -> None:
    rng = np.random.default_rng(16)
    n = 500
    for classes in (("neg", "pos"), ("a", "b", "a"), ("x", "yy", "z")):
        codes = rng.integers(0, len(classes), n)
        labels = np.array(classes, dtype=np.str_)[codes]
        coded = Predictions(labels, None, classes, None, None, np.zeros(n, bool), codes=codes)
        text = Predictions(labels, None, classes, None, None, np.zeros(n, bool))
        truth = np.array([*classes, "other", ""], dtype=np.str_)[
            rng.integers(0, len(classes) + 2, n)
        ]

        for name in {*classes, "other", "missing", ""}:
            np.testing.assert_array_equal(coded.predicted_is(name), text.predicted_is(name))
        for declared in (list(classes), ["neg"], ["pos", "neg", "extra"], []):
            np.testing.assert_array_equal(coded.foreign(declared), text.foreign(declared))
        for preds in (coded, text):
            same = preds.same_as_labels(_Labelled(truth))  # type: ignore[arg-type]
            np.testing.assert_array_equal(same, labels == truth)
