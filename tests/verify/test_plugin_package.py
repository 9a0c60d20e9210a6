"""Issue 13, done when: a package outside amlas (``tests/plugin_package``, its own
``pyproject.toml`` and entry points, no edit to ``src/amlas``) adds a metric, a model
format, a data rule and a store; on a copy of the bundled example that uses all four,
``amlas check`` validates the new names, ``amlas run`` plans and runs them, ``amlas
impact`` lists their records stale after their inputs change, and the case cites them.
The conformance suites of ``amlas.testing`` pass for each plug-in.

The package is installed with pip into a temporary folder put on ``sys.path`` for this
module only, so the committed schemas (which list what is installed) stay amlas's own."""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from amlas import check_project
from amlas.adapters import ModelOptions
from amlas.case import build_case
from amlas.checks import load_dataset, predict
from amlas.evidence import open_store
from amlas.plugins import GROUPS, registry
from amlas.testing import check_data_rule, check_metric, check_model_adapter, check_store
from amlas.verify import analyse_impact, plan
from cli_helpers import run
from conftest import EXAMPLE

PACKAGE = Path(__file__).resolve().parents[1] / "plugin_package"
RULE = {"column": 7, "threshold": 0.05, "scale": 0.01, "below": "benign", "above": "malignant"}


def _refresh() -> None:
    importlib.invalidate_caches()
    for group in GROUPS:
        registry(group).refresh()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("plugin-package")
    source = shutil.copytree(PACKAGE, work / "src")  # pip builds in the source folder
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target),
         str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    sys.path.insert(0, str(target))
    _refresh()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for name in [m for m in sys.modules if m.startswith("amlas_test_plugins")]:
            del sys.modules[name]
        _refresh()


def _write_model(root: Path, rule: dict[str, object]) -> None:
    model = root / "model" / "rule.json"
    model.write_text(json.dumps(rule), encoding="utf-8")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    v = root / "4-learning" / "V-model.yaml"
    text = v.read_text(encoding="utf-8")
    lines = [
        f"sha256: {digest}" if line.startswith("sha256:") else line for line in text.splitlines()
    ]
    v.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def project(installed: Path, tmp_path: Path) -> Path:
    """The bundled example on the plug-ins: the threshold_rule model, MLR-4 measured by
    error_rate, DR-2 checked by feature_range, the evidence in scratch://."""
    root = tmp_path / "bc"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".amlas", "evidence"))
    v = root / "4-learning" / "V-model.yaml"
    v.write_text(
        v.read_text(encoding="utf-8")
        .replace("location: model/model.skops", "location: model/rule.json")
        .replace("format: skops", "format: threshold_rule"),
        encoding="utf-8",
    )
    _write_model(root, RULE)
    h = root / "2-requirements" / "H-ml-safety-requirements.yaml"
    h.write_text(
        h.read_text(encoding="utf-8").replace(
            "metric: expected_calibration_error", "metric: error_rate"
        ),
        encoding="utf-8",
    )
    data = root / "3-data" / "L-data-requirements.yaml"
    data.write_text(
        data.read_text(encoding="utf-8").replace(
            "      check: schema_conformance\n",
            "      check: feature_range\n      column: mean_radius\n      low: 5\n"
            "      high: 30\n      max_outside_fraction: 0.05\n",
        ),
        encoding="utf-8",
    )
    manifest = root / "amlas.yaml"
    name = tmp_path.name.replace("-", "_")
    manifest.write_text(
        manifest.read_text(encoding="utf-8") + f"evidence: scratch://{name}\n", encoding="utf-8"
    )
    return root


def test_amlas_plugins_lists_the_packages_plugins(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "plugins", "--format", "json")
    assert status == 0
    listed = {(p["group"], p["name"]): p for p in json.loads(out)["plugins"]}
    for key in (
        ("amlas.metrics", "error_rate"),
        ("amlas.data_rules", "feature_range"),
        ("amlas.models", "threshold_rule"),
        ("amlas.stores", "scratch"),
    ):
        assert listed[key]["distribution"] == "amlas-test-plugins", key


def test_check_validates_the_new_names(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "check", str(project))
    assert status == 0, out + err
    h = project / "2-requirements" / "H-ml-safety-requirements.yaml"
    h.write_text(h.read_text().replace("metric: error_rate", "metric: error_rat"))
    status, out, err = run(capsys, "check", str(project))
    assert status == 1
    assert "unknown metric 'error_rat'" in out + err
    assert "error_rate" in out + err  # did you mean

    # the plug-in's own parameters model checks its keys, each problem located in [L]
    data = project / "3-data" / "L-data-requirements.yaml"
    lines = data.read_text().splitlines()
    at = lines.index("      high: 30") + 1
    data.write_text(data.read_text().replace("      high: 30\n", "      hihg: 30\n"))
    status, out, err = run(capsys, "check", str(project))
    assert status == 1
    assert f"3-data/L-data-requirements.yaml:{at}:" in out, out
    assert "hihg" in out
    assert "'high'" in out  # the missing key


def test_run_impact_and_case_use_the_plugins(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planned = plan(check_project(project).project, role="developer", stages=[3, 4])
    rule = planned.get("stage3/DR-2/N")
    assert rule is not None
    assert (rule.check, rule.runnable) == ("data.feature_range", True)
    leg = planned.get("stage4/MLR-4/O")
    assert leg is not None
    assert leg.check == "metric.error_rate"
    assert leg.runnable

    status, out, err = run(capsys, "run", str(project), "--stage", "3", "--stage", "4")
    assert status in (0, 1), out + err
    uri = check_project(project).project.manifest.evidence
    assert uri.startswith("scratch://")
    with open_store(uri, root=project) as store:
        records = {key: store.get(digest) for key, digest in store.list()}
    ranged = records["stage3/DR-2/O"]
    assert ranged.check == "data.feature_range"
    assert ranged.verdict in ("pass", "inconclusive")  # mean_radius of [O] lies in [5, 30]
    assert ranged.results[0]["samples"] == 114
    record = records["stage4/MLR-4/O"]
    assert record.check == "metric.error_rate"
    assert record.versions["amlas-test-plugins"] == "0.1.0"
    rows = (project / "data" / "internal-test.csv").read_text().count("\n") - 1
    assert record.results[0]["samples"] == rows  # every sample of [O] is a trial
    assert (
        records["stage4/MLR-1/O"].inputs["model"]
        == hashlib.sha256((project / "model" / "rule.json").read_bytes()).hexdigest()
    )

    case = build_case(project)
    assert record.digest in case.evidence
    assert ranged.digest in case.evidence
    assert analyse_impact(project).stale == []  # (stage 5 is the verifier's, never run)

    _write_model(project, {**RULE, "threshold": 0.06})  # a new model: its records are stale
    impact = analyse_impact(project)
    stale = {r.key: r.inputs for r in impact.stale}
    assert stale["stage4/MLR-4/O"] == ("model (changed)",)
    assert {r.key for r in impact.stale} == {k for k in records if k.startswith("stage4/")}


def test_the_conformance_suites_pass_for_the_plugins(project: Path) -> None:
    plugins = importlib.import_module("amlas_test_plugins")
    loaded = check_project(project).project
    requirement = next(r for r in loaded.ml_requirements.requirements if r.id == "MLR-4")  # type: ignore[union-attr]
    dataset = load_dataset(loaded, "O")
    options = ModelOptions(class_order=("benign", "malignant"))
    model = check_model_adapter(
        plugins.THRESHOLD_RULE, project / "model" / "rule.json", options, dataset.inputs[:8]
    )
    predictions = predict(model, dataset.inputs, positive=None, threshold=None)
    result = check_metric(plugins.ERROR_RATE, requirement, dataset, predictions)
    data = loaded.data_requirements
    assert data is not None
    ranged = next(r for r in data.requirements if r.id == "DR-2")
    outcome = check_data_rule(plugins.FEATURE_RANGE, loaded, ranged, dataset)
    assert outcome.results[0]["samples"] == len(dataset)
    assert result.slices[0].trials == len(dataset)
    wrong = float(np.mean(predictions.labels != dataset.labels))
    assert result.slices[0].estimate == pytest.approx(wrong)

    check_store(
        lambda slot: open_store(f"scratch://conformance_{slot.replace('-', '_')}", root=project)
    )
