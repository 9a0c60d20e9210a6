"""A table of bad runs, each mapped to the diagnostic code it must print (issue 13).

`tests/project/test_malformed.py` maps broken project files to what `amlas check` says;
this table covers what shows only while a command runs: data that turns out empty, of the
wrong type or not finite, a model that answers wrongly or ends the process, perturbation
settings the inputs cannot take, a store path that is a file, a missing key file, a bad
field log. Every row runs the real command line in-process and requires its code in the
output (printed in the `amlas check` format, `path:line:col: CODE severity: message`), exit
status 1 or 2, and neither a traceback nor "internal error". The `R` codes of
`amlas.diagnostics` are tested here, one bad run each at least (see
`test_every_run_code_has_a_bad_run`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlas.diagnostics import CODES
from cli_helpers import run
from conftest import EXAMPLE
from factory import DATA, DATA_FILE, documents
from monitor_project import monitor_documents, monitor_project, period
from runnable import runnable

pytestmark = pytest.mark.usefixtures("fresh_model")

Build = Callable[[Path], Path]
"""Writes the bad project under the given folder and returns its root."""

_PROBA = "        return np.stack([1.0 - p, p], axis=1)\n"
_LOAD = "def load():\n    return Lookup()\n"


# -- builders --------------------------------------------------------------------------------


def mini(
    *changes: Callable[[Path], None], docs: Callable[[dict[str, Any]], None] | None = None
) -> Build:
    """The runnable mini project (lookup model), changed."""

    def build(where: Path) -> Path:
        written = documents()
        if docs is not None:
            docs(written)
        root = runnable(where / "mini", written)
        for change in changes:
            change(root)
        return root

    return build


def monitored(*changes: Callable[[Path], None]) -> Build:
    """The mini project with a runtime monitor in [DD] (not calibrated), changed."""

    def build(where: Path) -> Path:
        root = monitor_project(where / "mini", monitor_documents())
        for change in changes:
            change(root)
        return root

    return build


def example(*changes: Callable[[Path], None]) -> Build:
    """A copy of the bundled breast-cancer example (its sklearn model), changed."""

    def build(where: Path) -> Path:
        root = where / "example"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("evidence", "safety-case"))
        for change in changes:
            change(root)
        return root

    return build


def images(**requirement: Any) -> Build:
    """The 4x4 image project of ``tests/torch_project.py`` (a torch network) with one [H]
    robustness requirement (prediction stability unless ``metric`` says otherwise)."""

    def build(where: Path) -> Path:
        from torch_project import image_project

        one = {
            "id": "MLR-1",
            "text": "Stable under a change of the images",
            "kind": "robustness",
            "traces_to": ["ALR-1"],
            "confidence": 0.95,
            "metric": "prediction_stability",
            "threshold": 0.9,
            **requirement,
        }
        nan_in = one.pop("nan_in", None)
        root = image_project(where / "images", [one])
        if nan_in is not None:
            _nan_pixel(root, nan_in)
        return root

    return build


def _nan_pixel(root: Path, letter: str) -> None:
    """One pixel of one image of the image project's dataset ``letter`` becomes NaN."""
    import hashlib
    import io

    import numpy as np

    file = next(root.glob(f"3-data/{letter}-*.yaml"))
    location = root / yaml.safe_load(file.read_text("utf-8"))["location"]
    with np.load(location) as loaded:
        arrays = {name: loaded[name] for name in loaded.files}
    image = arrays["image"].astype(np.float32)
    image[3, 1, 1, 0] = np.nan
    arrays["image"] = image
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    location.write_bytes(buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    set_yaml(f"3-data/{letter}-*.yaml", "sha256", value=digest)(root)


def sealed(*changes: Callable[[Path], None], after: Callable[[Path], None] | None = None) -> Build:
    """The runnable mini project with [P] sealed for the verifier (key: ``{tmp}/verifier.key``)
    after ``changes``; then ``after``."""

    def build(where: Path) -> Path:
        from amlas.evidence import seal_dataset
        from amlas.project import check_project
        from amlas.sealing import generate_key

        root = mini(*changes)(where)
        key = generate_key(where / "verifier.key")
        seal_dataset(check_project(root).project, "P", key)
        if after is not None:
            after(root)
        return root

    return build


def calibrated(*changes: Callable[[Path], None]) -> Build:
    """The monitored mini project with its monitor calibrated, then ``changes``."""

    def build(where: Path) -> Path:
        from amlas.monitor import calibrate, monitor_path
        from amlas.project import check_project

        root = monitored()(where)
        project = check_project(root).project
        calibrate(project).save(monitor_path(project))
        for change in changes:
            change(root)
        return root

    return build


def with_evidence(*changes: Callable[[Path], None]) -> Build:
    """The runnable mini project after a stage-3 run, then ``changes`` (to its store)."""

    def build(where: Path) -> Path:
        from amlas.verify import run_project

        root = mini()(where)
        run_project(root, role="developer", stages=(3,))
        for change in changes:
            change(root)
        return root

    return build


def damage_a_record(root: Path) -> None:
    first = sorted((root / "evidence" / "objects").rglob("*.json"))[0]
    first.write_text(first.read_text("utf-8").replace('"verdict"', '"verdict_"', 1), "utf-8")


def model_returns(expression: str) -> Callable[[Path], None]:
    """The lookup model's predict_proba returns ``expression`` (``p``: the right
    positive-class probabilities, ``x``: the inputs)."""

    def change(root: Path) -> None:
        path = root / "mini_model.py"
        source = path.read_text("utf-8")
        assert _PROBA in source
        path.write_text(source.replace(_PROBA, f"        return {expression}\n"), "utf-8")

    return change


def model_loads(body: str) -> Callable[[Path], None]:
    """The model module's ``load()`` runs ``body`` first."""

    def change(root: Path) -> None:
        path = root / "mini_model.py"
        source = path.read_text("utf-8")
        assert _LOAD in source
        path.write_text(source.replace(_LOAD, f"def load():\n    {body}\n    return Lookup()\n"))

    return change


def set_yaml(pattern: str, *path: Any, value: Any) -> Callable[[Path], None]:
    """Set ``path`` in the first YAML file matching ``pattern`` (None deletes the key)."""

    def change(root: Path) -> None:
        file = next(root.glob(pattern))
        document = yaml.safe_load(file.read_text("utf-8"))
        target = document
        for part in path[:-1]:
            target = target[part]
        if value is None:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        file.write_text(yaml.safe_dump(document, sort_keys=False), "utf-8")

    return change


def data_rows(letter: str, edit: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    """Rewrite a mini dataset's CSV lines (header first) and declare its new hash."""

    def change(root: Path) -> None:
        import hashlib

        lines = edit(DATA[letter].decode().splitlines())
        data = ("\n".join(lines) + "\n").encode()
        (root / DATA_FILE[letter]).write_bytes(data)
        set_yaml(f"3-data/{letter}-*.yaml", "sha256", value=hashlib.sha256(data).hexdigest())(root)

    return change


def example_rows(
    letter: str, edit: Callable[[list[list[str]]], list[list[str]]]
) -> Callable[[Path], None]:
    """Rewrite the example's dataset ``letter`` (rows without the header) and declare its
    new hash."""

    def change(root: Path) -> None:
        import csv
        import hashlib
        import io

        file = next(root.glob(f"3-data/{letter}-*.yaml"))
        location = yaml.safe_load(file.read_text("utf-8"))["location"]
        table = list(csv.reader(io.StringIO((root / location).read_text("utf-8"))))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([table[0], *edit(table[1:])])
        data = out.getvalue().encode()
        (root / location).write_bytes(data)
        set_yaml(f"3-data/{letter}-*.yaml", "sha256", value=hashlib.sha256(data).hexdigest())(root)

    return change


def cell(row: int, column: int, value: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        fields = lines[row].split(",")
        fields[column] = value
        return [*lines[:row], ",".join(fields), *lines[row + 1 :]]

    return edit


def _same_size(line: str) -> str:
    fields = line.split(",")
    fields[2] = "50.0"
    return ",".join(fields)


def write(
    relative: str, text: str | None = None, *, folder: bool = False
) -> Callable[[Path], None]:
    """Put a file (or a folder) at ``relative``, replacing what is there."""

    def change(root: Path) -> None:
        path = root / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        if folder:
            path.mkdir()
        else:
            path.write_text(text if text is not None else "not what amlas expects\n", "utf-8")

    return change


def perturbation(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """MLR-2's perturbation of the mini [H], with ``fields`` replaced."""

    def change(docs: dict[str, Any]) -> None:
        docs["H"]["requirements"][1]["perturbation"].update(fields)

    return change


def field_log(*lines: str) -> Callable[[Path], None]:
    return write("6-deployment/field-log.jsonl", "".join(line + "\n" for line in lines))


PERIOD = json.dumps(period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 10))


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    id: str
    code: str
    """The diagnostic code the output must hold."""
    build: Build
    argv: tuple[str, ...] = ("run", "{root}", "--stage", "4")
    """``{root}`` is the project, ``{tmp}`` the test's own folder."""
    status: int = 2
    says: str = ""
    """Text the output must also hold (where the diagnostic points, what it names)."""


RUN3 = ("run", "{root}", "--stage", "3")
CALIBRATE = ("monitor", "calibrate", "{root}")
INGEST = ("monitor", "ingest", "{root}")
VERIFY5 = (
    "run",
    "{root}",
    "--role",
    "verifier",
    "--stage",
    "5",
    "--key-file",
    "{tmp}/verifier.key",
)


IMPORT = (
    "evidence",
    "import",
    "{root}",
    "{root}/imports/counts.yaml",
    "--for",
    "MLR-1",
    "--dataset",
    "O",
)
_BANDS = (
    "  - {name: small, cell: {size: small}, successes: 10, trials: 10}\n"
    "  - {name: large, cell: {size: large}, successes: 10, trials: 10}\n"
)


def counts(slices: str = _BANDS, *, target: str = "MLR-1", data: str = "") -> str:
    """An ``amlas evidence import`` file of counts for the mini [H]; the slices start on
    line 9."""
    return (
        f"schema: amlas.import/1\nkind: counts\nfor: {target}\n"
        "accountable: {person: A. Lee, organisation: Lab}\n"
        "tool: {name: bench, version: '1'}\ndate: 2026-03-02\n"
        f"data: {{description: 200 frames{data}}}\nslices:\n{slices}"
    )


def _cut(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CASES: list[Any] = [
    # -- data found empty, of the wrong type or not finite while reading it
    Bad("header-only-data", "D023", mini(data_rows("O", lambda ls: ls[:1])), status=1),
    Bad("text-in-a-feature", "R011", mini(data_rows("O", cell(5, 2, "large")))),
    Bad(
        "nan-feature-refused-by-the-model",
        "R023",
        example(
            example_rows(
                "O",
                lambda rows: (
                    [*rows[:5], ["nan" if i == 2 else v for i, v in enumerate(rows[5])], *rows[6:]]
                ),
            )
        ),
    ),
    Bad(
        "infinite-feature-refused-by-the-model",
        "R023",
        example(
            example_rows(
                "O",
                lambda rows: (
                    [*rows[:5], ["inf" if i == 3 else v for i, v in enumerate(rows[5])], *rows[6:]]
                ),
            )
        ),
    ),
    Bad("data-is-a-folder", "D005", mini(write(DATA_FILE["O"], folder=True)), status=1),
    Bad(
        "data-not-utf8",
        "F003",
        mini(lambda root: (root / DATA_FILE["O"]).write_bytes(b"\xff\xfe\x00garbage")),
        status=1,
    ),
    Bad(
        "parquet-declared-csv-given",
        "R010",
        mini(set_yaml("3-data/O-*.yaml", "format", value="parquet")),
    ),
    Bad(
        "npz-declared-csv-given",
        "R010",
        mini(set_yaml("3-data/N-*.yaml", "format", value="npz")),
        RUN3,
    ),
    # -- a model that answers wrongly
    Bad("proba-wrong-width", "R021", mini(model_returns("np.stack([1 - p, p, p], axis=1)"))),
    Bad("proba-one-dimensional", "R021", mini(model_returns("p"))),
    Bad("proba-one-row", "R021", mini(model_returns("np.stack([1 - p, p], axis=1)[:1]"))),
    Bad("proba-text", "R021", mini(model_returns("[['a', 'b']] * len(x)"))),
    Bad("proba-none", "R021", mini(model_returns("None"))),
    Bad(
        "proba-negative",
        "R022",
        mini(model_returns("np.stack([1.0 - p, p], axis=1) - 0.5")),
        says="negative values for 60 of 60 samples",
    ),
    Bad("proba-above-one", "R022", mini(model_returns("np.stack([1.0 - p, p], axis=1) * 2"))),
    Bad(
        "proba-not-summing-to-one",
        "R022",
        mini(model_returns("np.stack([1.0 - p, p], axis=1) * 0.5")),
    ),
    Bad("logits-for-probabilities", "R022", mini(model_returns("np.stack([-3 * p, 3 * p], 1)"))),
    Bad("model-raises", "R023", mini(model_returns("1 / 0"))),
    Bad("model-calls-sys-exit", "R024", mini(model_returns("__import__('sys').exit(0)"))),
    Bad("model-calls-sys-exit-3", "R024", mini(model_returns("__import__('sys').exit(3)"))),
    Bad(
        "model-hangs",
        "R025",
        mini(
            model_returns("__import__('time').sleep(30)"),
            set_yaml("4-learning/V-*.yaml", "timeout_s", value=0.3),
        ),
    ),
    # -- a model that cannot be loaded
    Bad("loader-calls-sys-exit", "R024", mini(model_loads("raise SystemExit(0)"))),
    Bad("loader-raises", "R020", mini(model_loads("raise KeyError('weights')"))),
    Bad("loader-returns-nothing", "R020", mini(model_loads("return None"))),
    Bad(
        "callable-module-missing",
        "R020",
        mini(set_yaml("4-learning/V-*.yaml", "callable", value="no_such_module:load")),
    ),
    Bad(
        "callable-attribute-missing",
        "R020",
        mini(set_yaml("4-learning/V-*.yaml", "callable", value="mini_model:nothing")),
    ),
    Bad(
        "model-file-not-skops",
        "R020",
        example(
            write("model/model.skops", "not a zip archive"),
            lambda root: set_yaml(
                "4-learning/V-*.yaml",
                "sha256",
                value=__import__("hashlib").sha256(b"not a zip archive").hexdigest(),
            )(root),
        ),
    ),
    Bad(
        "model-classes-not-those-of-D",
        "M010",
        mini(set_yaml("4-learning/V-*.yaml", "class_order", value=["no", "yes"])),
        status=1,
    ),
    # -- perturbation settings the inputs cannot take
    Bad(
        "occlusion-patch-under-a-pixel",
        "R030",
        images(perturbation={"kind": "occlusion", "magnitude": 0.01, "unit": "relative"}),
        says="[H]: R030 error: MLR-1: occlusion patch for 0.01 of a 4x4 image is under one pixel",
    ),
    Bad(
        "occlusion-patch-larger-than-the-image",
        "R030",
        images(perturbation={"kind": "occlusion", "magnitude": 9, "unit": "px"}),
    ),
    Bad(
        "brightness-gain-of-150-percent",
        "R030",
        images(perturbation={"kind": "brightness", "magnitude": 150, "unit": "%"}),
    ),
    Bad(
        "blur-in-a-relative-unit",
        "R030",
        images(perturbation={"kind": "blur", "magnitude": 0.1, "unit": "relative"}),
    ),
    Bad(
        "nan-pixel-under-attack",
        "R013",
        images(nan_in="O", perturbation={"kind": "pgd", "magnitude": 4.0, "steps": 2}),
    ),
    Bad(
        "fault-injection-into-an-unknown-layer",
        "R031",
        images(
            metric="fault_tolerance_rate",
            faults={
                "kind": "bit_flip",
                "campaigns": 2,
                "layers": ["no_such_layer"],
                "max_accuracy_loss": 0.05,
            },
        ),
    ),
    Bad(
        "perturbed-feature-not-an-input",
        "Q011",
        mini(docs=perturbation(features=["weight_g"])),
        status=1,
    ),
    # -- the evidence store
    Bad("store-is-a-file", "R070", mini(write("evidence")), says="/evidence: R070 error: "),
    Bad("store-objects-a-file", "R070", mini(write("evidence/objects"))),
    Bad("store-refs-a-folder", "R070", mini(write("evidence/refs.json", folder=True))),
    Bad(
        "store-uri-unknown-scheme",
        "R070",
        mini(),
        ("run", "{root}", "--stage", "4", "--store", "ftp://example.org/evidence"),
    ),
    Bad(
        "evidence-store-is-a-file",
        "R070",
        mini(write("evidence")),
        ("evidence", "{root}"),
    ),
    # -- keys
    Bad(
        "key-file-missing",
        "R060",
        mini(),
        ("run", "{root}", "--stage", "3", "--role", "verifier", "--key-file", "{tmp}/no.key"),
    ),
    Bad(
        "key-file-not-a-key",
        "R060",
        mini(write("../not.key", "hello\n")),
        ("run", "{root}", "--stage", "3", "--role", "verifier", "--key-file", "{tmp}/not.key"),
    ),
    Bad(
        "seal-with-a-missing-key-file",
        "R060",
        mini(),
        ("seal", "{root}", "--key-file", "{tmp}/no.key"),
    ),
    # -- the runtime monitor and its field log
    Bad(
        "monitor-not-calibrated",
        "R050",
        monitored(),
        ("monitor", "check", "{root}", "{root}/data/test.csv"),
    ),
    Bad(
        "monitor-file-not-json",
        "R050",
        monitored(write("6-deployment/monitor.json", "{not json")),
        ("monitor", "check", "{root}", "{root}/data/test.csv", "--no-model"),
    ),
    Bad(
        "monitor-data-file-of-unknown-format",
        "R002",
        monitored(write("samples.txt", "a,b\n")),
        ("monitor", "check", "{root}", "{root}/samples.txt"),
    ),
    Bad(
        "calibration-data-do-not-vary",
        "R052",
        monitored(data_rows("N", lambda ls: [ls[0]] + [_same_size(line) for line in ls[1:]])),
        CALIBRATE,
    ),
    Bad("field-log-missing", "R053", monitored(), INGEST),
    Bad("field-log-not-json", "R053", monitored(field_log(PERIOD, "{oops")), INGEST),
    Bad(
        "field-log-negative-demands",
        "R053",
        monitored(field_log(PERIOD.replace('"grasp": 10', '"grasp": -1'))),
        INGEST,
    ),
    Bad(
        "field-log-unknown-kind",
        "R053",
        monitored(
            field_log(PERIOD, json.dumps({"kind": "rumour", "time": "2026-05-02T00:00:00Z"}))
        ),
        INGEST,
    ),
    # -- data only the verifier reads (sealed [P]): the codes `amlas check` gives plaintext
    Bad(
        "sealed-header-only",
        "D023",
        sealed(data_rows("P", lambda ls: ls[:1])),
        VERIFY5,
        says="3-data/P-verification-data.yaml:4:11: D023 error: [P] data/verif.csv holds no",
    ),
    Bad(
        "sealed-label-not-a-class",
        "D021",
        sealed(data_rows("P", cell(4, 1, "maybe"))),
        VERIFY5,
    ),
    Bad(
        "sealed-file-cut-after-sealing",
        "D017",
        sealed(after=lambda root: _cut(root / "data" / "verif.csv.sealed")),
        VERIFY5,
        status=1,
    ),
    # -- a requirement's precondition the data cannot answer (issue 15)
    Bad(
        "precondition-column-only-in-the-internal-test-data",
        "R096",
        sealed(
            data_rows("O", lambda ls: [ls[0] + ",ttc_s", *(line + ",1.5" for line in ls[1:])]),
            set_yaml(
                "2-requirements/H-*.yaml",
                "requirements",
                0,
                "precondition",
                value=[{"column": "ttc_s", "lt": 4.0}],
            ),
        ),
        VERIFY5,
        says="MLR-1: the precondition names column 'ttc_s'",
    ),
    Bad(
        "precondition-compares-text-with-a-number",
        "R097",
        mini(
            set_yaml(
                "2-requirements/H-*.yaml",
                "requirements",
                0,
                "precondition",
                value=[{"column": "lighting", "lt": 4.0}],
            )
        ),
    ),
    # -- a damaged evidence record
    Bad("evidence-record-damaged", "R071", with_evidence(damage_a_record), ("evidence", "{root}")),
    # -- inputs the calibrated monitor cannot take
    Bad(
        "monitor-check-text-for-a-feature",
        "R011",
        calibrated(write("samples.csv", "size_mm,lighting\nbig,day\n")),
        ("monitor", "check", "{root}", "{root}/samples.csv", "--no-model"),
    ),
    # -- the safety case
    Bad(
        "pattern-library-missing",
        "G006",
        mini(),
        ("case", "{root}", "--library", "no-such-library", "--no-svg"),
    ),
    Bad(
        "report-over-a-file-amlas-did-not-write",
        "F011",
        mini(write("../mine.html", "<p>mine</p>\n")),
        ("report", "{root}", "-o", "{tmp}/mine.html"),
    ),
    Bad(
        "case-into-a-folder-of-other-files",
        "F011",
        mini(write("../out/notes.txt", "mine\n")),
        ("case", "{root}", "--out", "{tmp}/out", "--no-svg"),
    ),
    # -- run settings (amlas.verify: the plan, the run, impact, field-log ingest)
    Bad("ingest-without-a-field-log", "R053", mini(), INGEST),
    Bad("impact-since-outside-git", "R002", mini(), ("impact", "{root}", "--since", "HEAD~1")),
    Bad("stage-5-as-developer", "R002", mini(), ("run", "{root}", "--stage", "5")),
    Bad("verifier-without-a-key", "R060", mini(), ("run", "{root}", "--role", "verifier")),
    Bad(
        "dask-scheduler-unreachable",
        "R098",
        mini(),
        ("run", "{root}", "--scheduler", "bogus://127.0.0.1:9"),
    ),
    Bad(
        "model-classes-differ-from-D-at-run-time",
        "M010",
        mini(
            model_loads("Lookup.classes_ = ('yes', 'no')"),
            set_yaml("4-learning/V-*.yaml", "class_order", value=None),
        ),
    ),
    # -- results produced outside amlas (amlas evidence import)
    Bad(
        "import-file-outside-the-project",
        "R080",
        mini(write("../counts.yaml", counts())),
        ("evidence", "import", "{root}", "{tmp}/counts.yaml", "--for", "MLR-1", "--dataset", "O"),
    ),
    Bad(
        "import-a-verdict-without-counts",
        "R081",
        mini(write("imports/counts.yaml", counts("  - {name: all, verdict: pass}\n"))),
        IMPORT,
        says="imports/counts.yaml:9:17: R081 error: slice 'all' states verdict: pass",
    ),
    Bad(
        "import-a-decimal-count",
        "R082",
        mini(
            write("imports/counts.yaml", counts(_BANDS.replace("successes: 10", "successes: 9.5")))
        ),
        IMPORT,
    ),
    Bad(
        "import-more-successes-than-trials",
        "R083",
        mini(
            write("imports/counts.yaml", counts(_BANDS.replace("successes: 10", "successes: 11")))
        ),
        IMPORT,
    ),
    Bad(
        "import-a-slice-twice",
        "R084",
        mini(write("imports/counts.yaml", counts(_BANDS.replace("large", "small")))),
        IMPORT,
    ),
    Bad(
        "import-for-no-requirement",
        "R085",
        mini(write("imports/counts.yaml", counts(target="MLR-9"))),
        (*IMPORT[:5], "MLR-9"),
        says="counts.yaml:3:6: R085 error: MLR-9 names neither an [H] requirement",
    ),
    Bad(
        "import-a-band-short",
        "R086",
        mini(write("imports/counts.yaml", counts(_BANDS.split("\n")[0] + "\n"))),
        IMPORT,
        says="no slice counts size=large",
    ),
    Bad(
        "import-counts-of-other-data",
        "R087",
        mini(write("imports/counts.yaml", counts(data=", sha256: " + "ab" * 32))),
        IMPORT,
    ),
    # -- review records [RV]
    Bad(
        "pin-a-review-that-does-not-exist",
        "R100",
        mini(),
        ("review", "pin", "{root}", "RV-9"),
        says="[RV] has no review 'RV-9'",
    ),
    # -- sign-offs
    Bad(
        "sign-with-a-file-that-is-no-key",
        "R110",
        mini(write("../not.pem", "hello\n")),
        ("sign", "{root}", "--key-file", "{tmp}/not.pem", "--decision", "approve"),
        says="not.pem: R110 error: not a key file",
    ),
    Bad(
        "sign-with-a-key-inside-the-project",
        "R110",
        mini(write("my.pem", "hello\n")),
        ("sign", "{root}", "--key-file", "{root}/my.pem", "--decision", "approve"),
        says="a private key never enters the project",
    ),
]


def _row(case: Any) -> Bad:
    return case.values[0] if hasattr(case, "values") else case


def test_the_table_is_large() -> None:
    rows = [_row(c) for c in CASES]
    assert len(rows) >= 40
    assert len({r.id for r in rows}) == len(rows)


def test_every_run_code_has_a_bad_run() -> None:
    run_codes = {code for code in CODES if code.startswith("R")}
    tested = {_row(c).code for c in CASES}
    # tested elsewhere, where the bad input can be made:
    elsewhere = {
        "R001",  # an extra not installed: tests/adapters/test_models.py (install hints)
        "R040",  # formal verification cannot run: tests/checks/test_formal.py; `amlas run`
        # records it as a check not run, never as a stop
        "R051",  # inputs the monitor cannot take: tests/server (POST /check), and inside
        # R053 for field-log labels
        "R061",  # sealed data modified: tests/sealing; `amlas check` finds a cut sealed
        # file first (D017, above)
        "R099",  # sealed data to a cluster without TLS: tests/verify/test_engine.py (a
        # project whose [P] is read in chunks, and a running scheduler)
        "R101",  # a Dask worker's model differs: tests/verify/test_engine.py
        # the statistics of counts, quantiles, windows and boxes refuse values no project
        # can give them (the loader and D024/D025 stop those first): tests/checks/
        # test_rates.py (R090), test_quantiles.py (R091), test_sequences.py (R092, R093),
        # test_boxes.py and test_matching.py (R094, R095)
        "R090",
        "R091",
        "R092",
        "R093",
        "R094",
        "R095",
    }
    assert run_codes - tested == elsewhere


_LINE = re.compile(r"^\S.*: (?P<code>[A-Z]\d{3}) (error|warning|info): ", re.M)


@pytest.mark.parametrize("case", CASES, ids=[_row(c).id for c in CASES])
def test_a_bad_run_prints_its_code(
    case: Bad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = case.build(tmp_path / "p")
    argv = [a.format(root=root, tmp=tmp_path / "p") for a in case.argv]
    status, out, err = run(capsys, *argv)
    text = out + err
    assert "internal error" not in text, text
    assert "Traceback" not in text, text
    assert status in (1, 2), text
    assert status == case.status, text
    codes = {m["code"] for m in _LINE.finditer(text)}
    assert case.code in codes, f"expected a {case.code} line, got:\n{text}"
    assert case.says in text, text
