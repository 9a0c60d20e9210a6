"""A table of broken inputs that only `amlas run` can see, each mapped to what it must say.

`tests/project/test_malformed.py` covers what `amlas check` finds in the files; this table
covers what shows only when a run reads the data or calls the model: models that return the
wrong shape, NaN, negative or unnormalised probabilities, that raise, exit or hang past their
time limit, a damaged evidence store, and content problems of the sealed [P] that only the
verifier can read. Every case runs the real command line: the exit status is 1 or 2, the
message names the problem, there is no traceback, and no evidence is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from amlas.sealing import generate_key
from cli_helpers import run
from factory import DATA, DATA_FILE
from runnable import runnable

_PROBA = "        return np.stack([1.0 - p, p], axis=1)\n"
_LOAD = "def load():\n    return Lookup()\n"


pytestmark = pytest.mark.usefixtures("fresh_model")


def model_returns(expression: str) -> Callable[[Path], None]:
    """The lookup model's predict_proba returns ``expression`` (``p``: the right
    positive-class probabilities, ``x``: the inputs)."""

    def change(root: Path) -> None:
        path = root / "mini_model.py"
        source = path.read_text(encoding="utf-8")
        assert _PROBA in source
        path.write_text(source.replace(_PROBA, f"        return {expression}\n"), "utf-8")

    return change


def model_loads(body: str) -> Callable[[Path], None]:
    """The model module's ``load()`` runs ``body`` first."""

    def change(root: Path) -> None:
        path = root / "mini_model.py"
        source = path.read_text(encoding="utf-8")
        assert _LOAD in source
        new = f"def load():\n    {body}\n    return Lookup()\n"
        path.write_text(source.replace(_LOAD, new), "utf-8")

    return change


def set_field(letter_file: str, key: str, value: object) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = next(root.glob(letter_file))
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        document[key] = value
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    return change


def make(relative: str, *, folder: bool) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if folder:
            path.mkdir()
        else:
            path.write_text("not what the store expects\n", encoding="utf-8")

    return change


def both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        for one in changes:
            one(root)

    return change


HALF_A_SECOND = set_field("4-learning/V-*.yaml", "timeout_s", 0.5)
"""[V] timeout_s: 0.5, the limit the hanging models run past."""


def verification_rows(edit: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    """Replace [P]'s rows before it is sealed (its declared hash follows), so that only the
    verifier, reading the sealed copy, can see the problem."""

    def change(root: Path) -> None:
        lines = edit(DATA["P"].decode().splitlines())
        data = ("\n".join(lines) + "\n").encode()
        (root / DATA_FILE["P"]).write_bytes(data)
        set_field("3-data/P-*.yaml", "sha256", hashlib.sha256(data).hexdigest())(root)

    return change


def _label(row: int, value: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        fields = lines[row].split(",")
        fields[1] = value
        return [*lines[:row], ",".join(fields), *lines[row + 1 :]]

    return edit


def _ids(value: str) -> Callable[[list[str]], list[str]]:
    return lambda lines: [lines[0]] + [value + line[line.index(",") :] for line in lines[1:]]


@dataclass(frozen=True)
class Case:
    id: str
    change: Callable[[Path], None]
    says: str
    """Text the error output must contain."""
    status: int = 2
    verifier: bool = False
    """Seal [P] after the change and run stage 5 as the verifier."""


CASES = [
    # models that answer wrongly
    Case("proba-wrong-width", model_returns("np.stack([1 - p, p, p], axis=1)"), "shape (60, 3)"),
    Case("proba-one-dimensional", model_returns("p"), "shape (60,)"),
    Case("proba-one-row", model_returns("np.stack([1 - p, p], axis=1)[:1]"), "shape (1, 2)"),
    Case("proba-text", model_returns("[['a', 'b']] * len(x)"), "not numbers"),
    Case("proba-none", model_returns("None"), "predict_proba returned"),
    Case(
        "proba-negative",
        model_returns("np.stack([1.0 - p, p], axis=1) - 0.5"),
        "negative values for 60 of 60 samples",
    ),
    Case(
        "proba-one-negative",
        model_returns(
            "np.where(np.arange(len(p))[:, None] == 7, [[-0.2, 1.2]], "
            "np.stack([1.0 - p, p], axis=1))"
        ),
        "negative values for 1 of 60 samples, e.g. sample 8",
    ),
    Case(
        "proba-above-one",
        model_returns("np.stack([1.0 - p, p], axis=1) * 2"),
        "values above 1",
    ),
    Case(
        "proba-unnormalised",
        model_returns("np.stack([1.0 - p, p], axis=1) * 0.5"),
        "do not sum to 1",
    ),
    Case(
        "logits-not-probabilities",
        model_returns("np.stack([-3 * p, 3 * p], axis=1)"),
        "negative values",
    ),
    Case("model-raises", model_returns("1 / 0"), "ZeroDivisionError"),
    Case("model-exits-0", model_returns("__import__('sys').exit(0)"), "called sys.exit(0)"),
    Case("model-exits-3", model_returns("__import__('sys').exit(3)"), "called sys.exit(3)"),
    Case(
        "model-hangs",
        both(model_returns("__import__('time').sleep(30)"), HALF_A_SECOND),
        "did not finish predicting probabilities within 0.5 s",
    ),
    Case(
        "model-loops",
        both(model_returns("[None for _ in iter(int, 1)]"), HALF_A_SECOND),
        "within 0.5 s",
    ),
    Case("load-exits", model_loads("raise SystemExit(0)"), "called sys.exit(0) while loading"),
    Case(
        "load-hangs",
        both(model_loads("__import__('time').sleep(30)"), HALF_A_SECOND),
        "did not finish loading within 0.5 s",
    ),
    Case("load-raises", model_loads("raise KeyError('weights')"), "KeyError"),
    Case(
        "load-returns-nothing",
        lambda root: (root / "mini_model.py").write_text(
            (root / "mini_model.py").read_text("utf-8").replace(_LOAD, "def load():\n    pass\n"),
            "utf-8",
        ),
        "returned a NoneType",
    ),
    Case(
        "torch-without-callable",
        both(
            set_field("4-learning/V-*.yaml", "format", "torch"),
            set_field("4-learning/V-*.yaml", "callable", None),
        ),
        "not a torch.export program",
    ),
    # a damaged evidence store
    Case("store-objects-a-file", make("evidence/objects", folder=False), "is not a folder"),
    Case("store-runs-a-file", make("evidence/runs", folder=False), "is not a folder"),
    Case("store-refs-a-folder", make("evidence/refs.json", folder=True), "not a regular file"),
    Case("store-a-file", make("evidence", folder=False), "is not a folder"),
    # sealed [P]: only the verifier's run can read its rows
    Case("sealed-header-only", verification_rows(lambda lines: lines[:1]), "D023", verifier=True),
    Case(
        "sealed-unknown-label",
        verification_rows(_label(4, "maybe")),
        "[D]: (sealed) (sample 4)",
        verifier=True,
    ),
    Case("sealed-empty-label", verification_rows(_label(4, "")), "empty label", verifier=True),
    Case("sealed-same-ids", verification_rows(_ids("X")), "D022", verifier=True),
    Case("sealed-empty-ids", verification_rows(_ids("")), "empty id", verifier=True),
    Case(
        "sealed-miscounted",
        lambda root: set_field("3-data/P-*.yaml", "samples", 61)(root),
        "holds 60 samples; [P] declares samples: 61",
        verifier=True,
    ),
]


def test_the_table_is_large() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_broken_run_input_is_named_and_writes_nothing(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = runnable(tmp_path / "mini")
    case.change(root)
    before = _listing(root / "evidence")
    if case.verifier:
        key_file = tmp_path / "keys" / "verifier.key"
        generate_key(key_file)
        assert run(capsys, "seal", str(root), "--key-file", str(key_file))[0] == 0
        before = _listing(root / "evidence")
        argv = ["run", str(root), "--role", "verifier", "--key-file", str(key_file)]
        status, out, err = run(capsys, *argv, "--stage", "5")
    else:
        status, out, err = run(capsys, "run", str(root), "--stage", "4")
    text = out + err
    assert status == case.status, text
    assert case.says in text, text
    assert "internal error" not in text
    if case.verifier:  # the verifier's log is no place for [P]'s values
        assert "maybe" not in text
        assert "'X'" not in text
    assert _listing(root / "evidence") == before, "a refused run writes no evidence"


def _listing(path: Path) -> list[str]:
    if not path.is_dir():
        return [] if not path.exists() else [path.name]
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_nan_predictions_are_inconclusive_never_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NaN is not a wrong answer the run can refuse outright: the samples are named and no
    verdict on them is claimed."""
    root = runnable(tmp_path / "mini")
    model_returns("np.full((len(p), 2), np.nan)")(root)
    status, out, err = run(capsys, "run", str(root), "--stage", "4", "--format", "json")
    assert status == 0, err
    records = json.loads(out)["records"]
    assert records
    assert {r["verdict"] for r in records} == {"inconclusive"}
