"""A table of malformed projects, each mapped to the diagnostic it must produce.

Every case starts from the error-free project in ``tests/factory.py`` and breaks exactly
one thing. The check must report the expected code, located in the right file, and
nothing may raise.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from amlas import Severity, check_project
from amlas.evidence import seal_dataset
from amlas.project import ARTEFACTS, build_trace
from amlas.sealing import AccessLog, VerifierKey
from factory import DATA, DATA_FILE, documents, write_project

Docs = dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    file: str  # artefact letter or 'manifest' whose file the diagnostic must point into
    change: Callable[[Docs], None] = lambda docs: None
    after: Callable[[Path], None] = lambda root: None
    also: frozenset[str] = field(default_factory=frozenset)
    """Other codes this break may legitimately cause."""


_PERSON = {
    "id": "ASSESSOR-1",
    "name": "A. Assessor",
    "roles": ["safety-assessor"],
    "independence": "independent_organisation",
    "key": "ed25519:" + "A" * 43 + "=",
}


def setter(letter: str, *path: Any, value: Any) -> Callable[[Docs], None]:
    def change(docs: Docs) -> None:
        target = docs[letter]
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def deleter(letter: str, *path: Any) -> Callable[[Docs], None]:
    def change(docs: Docs) -> None:
        target = docs[letter]
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


def raw(letter: str, text: str) -> Callable[[Docs], None]:
    def change(docs: Docs) -> None:
        docs[letter] = text

    return change


def appender(letter: str, *path: Any, item: Any) -> Callable[[Docs], None]:
    def change(docs: Docs) -> None:
        target = docs[letter]
        for part in path:
            target = target[part]
        target.append(item)

    return change


def both(*changes: Callable[[Docs], None]) -> Callable[[Docs], None]:
    def change(docs: Docs) -> None:
        for c in changes:
            c(docs)

    return change


def write_file(relative: str, data: bytes) -> Callable[[Path], None]:
    return lambda root: (root / relative).write_bytes(data)


def remove_file(relative: str) -> Callable[[Path], None]:
    return lambda root: (root / relative).unlink()


def sealed(*then: Callable[[Path], None], keep_plaintext: bool = False) -> Callable[[Path], None]:
    """Seal [P] (as 'amlas seal' does), then break the sealed project with ``then``."""

    def after(root: Path) -> None:
        project = check_project(root).project
        seal_dataset(project, "P", SEAL_KEY, keep_plaintext=keep_plaintext)
        for change in then:
            change(root)

    return after


def edit_text(relative: str, old: str, new: str) -> Callable[[Path], None]:
    """Replace the first ``old`` in a file (which may be binary beyond that) by ``new``."""

    def change(root: Path) -> None:
        data = (root / relative).read_bytes()
        assert old.encode() in data, (old, data[:300])
        (root / relative).write_bytes(data.replace(old.encode(), new.encode(), 1))

    return change


def use_sealed_data(times: int) -> Callable[[Path], None]:
    """Log ``times`` uses of the sealed [P], as 'amlas run --role verifier' does."""

    def change(root: Path) -> None:
        for _ in range(times):
            AccessLog(root / ACCESS_LOG).append(
                event="use",
                actor="tester",
                role="verifier",
                dataset="P",
                dataset_sha256=P_SHA256,
                purpose="a test run",
                key=SEAL_KEY,
            )

    return change


def _flip_last_byte(root: Path) -> None:
    data = bytearray((root / SEALED_P).read_bytes())
    data[-1] ^= 0x01
    (root / SEALED_P).write_bytes(bytes(data))


def _undeclare_verifier_key(root: Path) -> None:
    manifest = root / "amlas.yaml"
    lines = manifest.read_text("utf-8").splitlines(keepends=True)
    manifest.write_text("".join(x for x in lines if not x.startswith("verifier_key:")), "utf-8")


def rewrite_data(letter: str, edit: Callable[[list[str]], list[str]]) -> dict[str, Any]:
    """A case's ``change`` and ``after``: replace a dataset's rows (header first) and
    declare the new file's hash, so that only the content problem remains."""
    lines = edit(DATA[letter].decode().splitlines())
    data = ("\n".join(lines) + "\n").encode() if lines else b""
    return {
        "change": setter(letter, "sha256", value=hashlib.sha256(data).hexdigest()),
        "after": write_file(DATA_FILE[letter], data),
    }


def _relabel(row: int, label: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        fields = lines[row].split(",")
        fields[1] = label
        return [*lines[:row], ",".join(fields), *lines[row + 1 :]]

    return edit


def _reid(rows: range, new_id: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        out = list(lines)
        for row in rows:
            out[row] = new_id + out[row][out[row].index(",") :]
        return out

    return edit


SEAL_KEY = VerifierKey.generate()
SEALED_P = DATA_FILE["P"] + ".sealed"
ACCESS_LOG = "5-verification/P-access-log.jsonl"
P_YAML = ARTEFACTS["P"].default_path
P_SHA256 = hashlib.sha256(DATA["P"]).hexdigest()
H = ("requirements", 0)  # MLR-1
RV = ("reviews", 0)  # RV-1
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(7)
)
SSR2 = {"id": "SSR-2", "text": "Stop within 50 ms", "controls": ["HAZ-1"]}
B_SIZE = ("dimensions", 0)  # the numeric dimension 'size' of [B]
FINE = [{"name": "s00-25", "min": 0, "max": 25}, {"name": "s25-50", "min": 25, "max": 50}]
MOTORWAY = {
    "id": "ODD-C1",
    "name": "Road type",
    "condition": "factory floor only",
    "assured_by": "monitor",
    "rationale": "the press is bolted to the floor",
    "monitored_by": ["EB-1"],
}
ISO = {"scheme": "iso26262", "severity": "S3", "exposure": "E4", "controllability": "C3"}


def condition(**changes: Any) -> Callable[[Docs], None]:
    """[B] declares the fixed ODD condition MOTORWAY, with ``changes`` (None deletes)."""
    item = {**MOTORWAY, **changes}
    return setter("B", "conditions", value=[{k: v for k, v in item.items() if v is not None}])


def classified(**changes: Any) -> Callable[[Docs], None]:
    """HAZ-1 of [A] is classified as ISO (S3/E4/C3), with ``changes`` (None deletes)."""
    item = {**ISO, **changes}
    return setter(
        "A", "hazards", 0, "classification", value={k: v for k, v in item.items() if v is not None}
    )


CASES = [
    # -- F: files and YAML
    Case("required-file-missing", "F001", "H", raw("H", None)),  # type: ignore[arg-type]
    Case("later-file-missing", "F002", "J", raw("J", None)),  # type: ignore[arg-type]
    Case("not-utf8", "F003", "H", after=write_file(ARTEFACTS["H"].default_path, b"a: \xff\xfe\n")),
    Case(
        "directory-not-file",
        "F003",
        "J",
        after=lambda root: (
            (root / ARTEFACTS["J"].default_path).unlink(),
            (root / ARTEFACTS["J"].default_path).mkdir(),
        ),
    ),
    Case("yaml-syntax", "F004", "H", raw("H", "artefact: H\nrequirements: [unclosed\n")),
    Case("yaml-bad-indent", "F004", "A", raw("A", "artefact: A\n  version: 1\n bad: [\n")),
    Case(
        "duplicate-key",
        "F005",
        "A",
        raw("A", "artefact: A\nversion: '1'\nversion: '2'\nsource: s\n"),
        also=frozenset({"S002"}),
    ),
    Case("python-tag", "F006", "H", raw("H", "artefact: !!python/object/apply:os.system [ls]\n")),
    Case("custom-tag", "F006", "H", raw("H", "artefact: H\nversion: !secret v\n")),
    Case("alias-bomb", "F006", "H", raw("H", BOMB)),
    Case("merge-key", "F006", "H", raw("H", "base: &b {x: 1}\nother:\n  <<: *b\n")),
    Case("empty-file", "F007", "H", raw("H", "")),
    Case("alias-cycle", "F006", "H", raw("H", "requirements: &a [*a]\n")),
    Case("nesting-too-deep", "F006", "H", raw("H", "a: " + "[" * 5000 + "]" * 5000 + "\n")),
    # beyond our limit but within PyYAML's own (1000 levels since 6.0.3)
    Case("nesting-past-our-limit", "F006", "H", raw("H", "a: " + "[" * 70 + "]" * 70 + "\n")),
    Case(
        "block-nesting-too-deep",
        "F006",
        "H",
        raw("H", "artefact: H\n" + "".join("  " * i + "k:\n" for i in range(1200))),
    ),
    Case("bad-explicit-tag", "F006", "H", raw("H", "artefact: H\nversion: !!timestamp foo\n")),
    Case("control-character", "F004", "H", raw("H", "artefact: H\nversion: '1\x07'\n")),
    Case("comment-only-file", "F007", "H", raw("H", "# nothing here\n")),
    Case("top-level-list", "F007", "H", raw("H", "- artefact: H\n")),
    Case("two-documents", "F007", "H", raw("H", "artefact: H\n---\nartefact: H\n")),
    Case("header-mismatch", "F008", "H", setter("H", "artefact", value="L")),
    Case(
        "manifest-path-escapes",
        "F009",
        "manifest",
        setter("manifest", "artefacts", value={"J": "../outside.yaml"}),
    ),
    Case("dataset-path-escapes", "F009", "O", setter("O", "location", value="../x.csv")),
    Case("dataset-path-nul", "F009", "O", setter("O", "location", value="data/x\0.csv")),
    Case("dataset-path-too-long", "F003", "O", setter("O", "location", value="data/" + "x" * 300)),
    Case("model-path-absolute", "F009", "V", setter("V", "location", value="/etc/passwd")),
    Case(
        "artefact-symlink-loop",
        "F009",
        "J",
        after=lambda root: (
            (root / ARTEFACTS["J"].default_path).unlink(),
            (root / ARTEFACTS["J"].default_path).symlink_to(
                ARTEFACTS["J"].default_path.split("/")[1]
            ),
        ),
    ),
    Case(
        "fifo-artefact",
        "F003",
        "J",
        after=lambda root: (
            (root / ARTEFACTS["J"].default_path).unlink(),
            os.mkfifo(root / ARTEFACTS["J"].default_path),
        ),
    ),
    Case(
        "fifo-dataset",
        "F003",
        "O",
        after=lambda root: ((root / DATA_FILE["O"]).unlink(), os.mkfifo(root / DATA_FILE["O"])),
        also=frozenset(),
    ),
    Case(
        "empty-csv",
        "D006",
        "N",
        setter("N", "sha256", value=None),
        after=write_file(DATA_FILE["N"], b""),
    ),
    # -- S: schema
    Case(
        "unknown-key",
        "S001",
        "H",
        both(
            setter("H", *H, "treshold", value=0.9),
        ),
    ),
    Case("unknown-top-key", "S001", "manifest", setter("manifest", "compnent", value="x")),
    # people and approvals (sign-offs themselves: tests/case/test_signoff.py)
    Case(
        "approval-role-nobody-holds",
        "A006",
        "manifest",
        both(
            setter("manifest", "people", value=[_PERSON]),
            setter("manifest", "case", value={"approvals": [{"require": ["regulator"]}]}),
        ),
    ),
    Case(
        "person-declared-twice",
        "A007",
        "manifest",
        setter("manifest", "people", value=[_PERSON, {**_PERSON, "name": "Someone else"}]),
    ),
    Case(
        "person-without-a-key",
        "A008",
        "manifest",
        setter("manifest", "people", value=[{k: v for k, v in _PERSON.items() if k != "key"}]),
    ),
    Case(
        "manifest-error-keeps-file-map",
        "S004",
        "manifest",
        both(
            setter("manifest", "criticality", value="hgh"),
            setter("manifest", "artefacts", value={"J": "elsewhere/validation.yaml"}),
        ),
        after=lambda root: (
            (root / "elsewhere").mkdir(),
            (root / ARTEFACTS["J"].default_path).rename(root / "elsewhere/validation.yaml"),
        ),
    ),
    Case(
        "missing-required-key", "S002", "E", deleter("E", "requirements", 0, "hazard_contribution")
    ),
    Case("performance-without-confidence", "Q020", "H", deleter("H", *H, "confidence")),
    Case(
        "precondition-term-without-comparison",
        "S002",
        "H",
        setter("H", *H, "precondition", value=[{"column": "size_mm"}]),
    ),
    Case(
        "precondition-compares-with-a-boolean",
        "S003",
        "H",
        setter("H", *H, "precondition", value=[{"column": "lighting", "eq": True}]),
    ),
    Case(
        "precondition-unknown-comparison",
        "S001",
        "H",
        setter("H", *H, "precondition", value=[{"column": "size_mm", "below": 4.0}]),
    ),
    Case(
        "default-confidence-out-of-range",
        "S005",
        "manifest",
        setter("manifest", "defaults", value={"confidence": 1.5}),
    ),
    Case(
        "defaults-unknown-key",
        "S001",
        "manifest",
        setter("manifest", "defaults", value={"confidance": 0.95}),
    ),
    Case("missing-discriminator", "S002", "B", deleter("B", "dimensions", 1, "kind")),
    Case("string-for-number", "S003", "H", setter("H", *H, "threshold", value="high")),
    Case("mapping-for-list", "S003", "E", setter("E", "requirements", value={"id": "ALR-1"})),
    Case("bad-date", "S003", "J", setter("J", "records", 0, "date", value="2026-13-45")),
    Case("bad-choice", "S004", "H", setter("H", *H, "kind", value="performace")),
    Case("unknown-metric", "S004", "H", setter("H", *H, "metric", value="recal")),
    Case("bad-union-tag", "S004", "B", setter("B", "dimensions", 0, "kind", value="numric")),
    Case(
        "bad-manifest-letter",
        "S004",
        "manifest",
        setter("manifest", "artefacts", value={"Hh": "x.yaml"}),
    ),
    Case("bad-format-version", "S004", "manifest", setter("manifest", "amlas", value=2)),
    Case(
        "bad-id-pattern",
        "S005",
        "H",
        setter("H", *H, "id", value="MLR 1"),
        also=frozenset({"X002", "Q010", "M005", "D011", "X008"}),
    ),
    Case("empty-list", "S005", "E", setter("E", "requirements", value=[])),
    Case("bad-sha", "S005", "N", setter("N", "sha256", value="abc")),
    Case(
        "negative-probability",
        "S005",
        "C",
        setter("C", "barriers", 0, "failure_on_demand", value=1.5),
    ),
    Case("unknown-model-format", "S004", "V", setter("V", "format", value="onx")),
    Case("unknown-dataset-format", "S004", "N", setter("N", "format", value="parqet")),
    Case(
        "bad-callable",
        "S005",
        "V",
        both(
            setter("V", "format", value="python_callable"),
            setter("V", "callable", value="not a callable"),
        ),
    ),
    Case(
        "band-outside-range",
        "S006",
        "B",
        setter("B", "dimensions", 0, "bands", 1, "max", value=120),
    ),
    Case("bands-overlap", "S006", "B", setter("B", "dimensions", 0, "bands", 1, "min", value=40)),
    # -- new: band ends, named bandings, fixed ODD conditions, hazard classification
    Case(
        "band-closed-at-a-shared-end",  # [0, 50] and [50, 100] share 50
        "S006",
        "B",
        setter("B", *B_SIZE, "bands", 0, "max_inclusive", value=True),
    ),
    Case(
        "band-end-not-a-boolean",
        "S003",
        "B",
        setter("B", *B_SIZE, "bands", 0, "max_inclusive", value="sometimes"),
    ),
    Case(
        "band-start-not-a-boolean",
        "S003",
        "B",
        setter("B", *B_SIZE, "bands", 1, "min_inclusive", value=2),
    ),
    Case(
        "criticality-not-a-level",
        "S004",
        "manifest",
        setter("manifest", "criticality", value="extreme"),
    ),
    Case(
        "banding-bands-overlap",
        "S006",
        "B",
        setter("B", *B_SIZE, "bandings", value={"fine": [FINE[0], {**FINE[1], "min": 20}]}),
    ),
    Case("banding-empty", "S005", "B", setter("B", *B_SIZE, "bandings", value={"fine": []})),
    Case("banding-name-bad", "S005", "B", setter("B", *B_SIZE, "bandings", value={"f ne": FINE})),
    Case(
        "slice-banding-unknown",
        "Q016",
        "H",
        both(
            setter("B", *B_SIZE, "bandings", value={"fine": FINE}),
            setter("H", *H, "applies_to", "banding", value={"size": "fnie"}),
        ),
    ),
    Case(
        "slice-banding-on-categorical",
        "Q016",
        "H",
        setter("H", *H, "applies_to", "banding", value={"lighting": "fine"}),
    ),
    Case(
        "slice-banding-unused-dimension",
        "Q016",
        "H",
        both(
            setter("B", *B_SIZE, "bandings", value={"fine": FINE}),
            setter("H", *H, "applies_to", value={"banding": {"size": "fine"}}),
        ),
    ),
    Case(
        "slice-band-not-of-its-banding",
        "Q005",
        "H",
        both(
            setter("B", *B_SIZE, "bandings", value={"fine": FINE}),
            setter(
                "H",
                *H,
                "applies_to",
                value={"where": {"size": ["small"]}, "banding": {"size": "fine"}},
            ),
        ),
    ),
    Case(
        "slice-banding-dimension-unknown",
        "X002",
        "H",
        setter("H", *H, "applies_to", "banding", value={"sise": "fine"}),
    ),
    Case(
        "cells-banding-unknown",
        "D026",
        "L",
        setter("L", "requirements", 1, "rule", "banding", value={"size": "fine"}),
    ),
    Case(
        "cells-banding-unused-dimension",
        "D026",
        "L",
        both(
            setter("B", *B_SIZE, "bandings", value={"fine": FINE}),
            setter("L", "requirements", 1, "rule", "banding", value={"lighting": "fine"}),
        ),
    ),
    Case(
        "balance-banding-unknown",
        "D026",
        "L",
        both(
            setter("B", *B_SIZE, "bandings", value={"fine": FINE}),
            setter(
                "L",
                "requirements",
                3,
                "rule",
                value={
                    "check": "slice_balance",
                    "dimension": "size",
                    "min_fraction": 0.1,
                    "banding": "fien",
                },
            ),
            setter("L", "requirements", 3, "category", value="balance"),
        ),
    ),
    Case("condition-monitor-unnamed", "D027", "B", condition(monitored_by=None)),
    Case("condition-monitor-unknown", "X002", "B", condition(monitored_by=["EB-9"])),
    Case("condition-monitor-wrong-kind", "X003", "B", condition(monitored_by=["HAZ-1"])),
    Case("condition-assurance-bad", "S004", "B", condition(assured_by="hope")),
    Case("condition-without-rationale", "S002", "B", condition(rationale=None)),
    Case(
        "condition-id-taken",
        "X001",
        "B",
        condition(id="HAZ-1"),
        also=frozenset({"X003"}),
    ),
    Case("asil-not-the-table", "Q017", "A", classified(asil="C")),
    Case("asil-not-a-level", "S004", "A", classified(asil="E")),
    Case("exposure-class-unknown", "S004", "A", classified(exposure="E5")),
    Case("controllability-missing", "S002", "A", classified(controllability=None)),
    Case(
        "domain-scheme-without-fields",
        "S005",
        "A",
        setter("A", "hazards", 0, "classification", value={"scheme": "DAL", "fields": {}}),
    ),
    Case("hazard-unclassified", "S002", "A", deleter("A", "hazards", 0, "severity")),
    Case(
        "binary-with-three-classes",
        "S006",
        "D",
        appender("D", "classes", item={"name": "other", "description": "x"}),
    ),
    Case(
        "rule-with-two-sources",
        "S006",
        "L",
        setter("L", "requirements", 1, "rule", "from_requirement", value="MLR-1"),
    ),
    Case("placeholder-left", "S007", "A", setter("A", "source", value="TODO: fill in")),
    # -- X: identifiers and traceability
    Case(
        "duplicate-id",
        "X001",
        "H",
        setter("H", "requirements", 1, "id", value="MLR-1"),
        also=frozenset({"X002"}),
    ),  # MLR-2 is gone, so its references dangle
    Case(
        "dangling-id",
        "X002",
        "E",
        setter("E", "requirements", 0, "traces_to", value=["SSR-9"]),
        also=frozenset({"X010", "M009"}),
    ),
    Case(
        "dangling-slice-dimension",
        "X002",
        "H",
        setter("H", *H, "applies_to", "per", value=["sise"]),
    ),
    Case(
        "wrong-kind",
        "X003",
        "E",
        setter("E", "requirements", 0, "traces_to", value=["HAZ-1"]),
        also=frozenset({"X010", "M009"}),
    ),
    Case(
        "allocated-untraced",
        "X004",
        "E",
        setter("E", "requirements", 0, "traces_to", value=[]),
        also=frozenset({"X010"}),
    ),
    Case("ml-untraced", "X005", "H", setter("H", *H, "traces_to", value=[])),
    Case(
        "allocated-not-refined",
        "X006",
        "E",
        appender(
            "E",
            "requirements",
            item={
                "id": "ALR-2",
                "text": "Report widget count",
                "traces_to": ["SSR-1"],
                "hazard_contribution": "Miscount hides a hand",
            },
        ),
    ),
    Case("data-untraced", "X007", "L", setter("L", "requirements", 2, "traces_to", value=[])),
    Case(
        "ml-not-covered", "X008", "H", setter("L", "requirements", 0, "traces_to", value=["MLR-1"])
    ),
    Case(
        "hazard-uncontrolled",
        "X009",
        "A",
        appender("A", "hazards", item={"id": "HAZ-2", "description": "Noise", "severity": "minor"}),
    ),
    Case("requirement-unallocated", "X010", "A", appender("A", "requirements", item=SSR2)),
    Case(
        "deferred-and-refined",
        "X011",
        "E",
        setter("E", "requirements", 0, "deferred", value={"reason": "x", "handled_by": "system"}),
    ),
    Case(
        "not-data-related-but-covered",
        "X012",
        "H",
        both(
            setter("H", "requirements", 1, "data_related", value=False),
            setter("H", "requirements", 1, "data_related_reason", value="latency"),
        ),
    ),
    # -- [H] hierarchy (refines) and the scenarios' links into [H] (ml_requirements)
    Case("refines-unknown", "X002", "H", setter("H", *H, "refines", value="MLR-9")),
    Case("refines-wrong-kind", "X003", "H", setter("H", *H, "refines", value="ALR-1")),
    Case("refines-a-list", "S003", "H", setter("H", *H, "refines", value=["MLR-2"])),
    Case("refines-itself", "X013", "H", setter("H", *H, "refines", value="MLR-1")),
    Case(
        "barrier-rated-outside-a-system",
        "X019",
        "C",
        setter("C", "barriers", 0, "failure_from", value="MLR-1"),
    ),
    Case(
        "refinement-cycle",
        "X013",
        "H",
        both(
            setter("H", *H, "refines", value="MLR-2"),
            setter("H", "requirements", 1, "refines", value="MLR-1"),
        ),
    ),
    Case(
        "scenario-ml-unknown",
        "X002",
        "EE",
        setter("EE", "scenarios", 0, "ml_requirements", value=["MLR-9"]),
    ),
    Case(
        "scenario-ml-wrong-kind",
        "X003",
        "EE",
        setter("EE", "scenarios", 0, "ml_requirements", value=["ALR-1"]),
    ),
    Case(
        "scenario-ml-not-a-list",
        "S003",
        "EE",
        setter("EE", "scenarios", 0, "ml_requirements", value={"MLR-1": True}),
    ),
    Case(
        "scenario-ml-outside-its-requirements",
        "X014",
        "EE",
        both(
            appender("A", "requirements", item=SSR2),
            appender(
                "E",
                "requirements",
                item={
                    "id": "ALR-2",
                    "text": "Stop in time",
                    "traces_to": ["SSR-2"],
                    "hazard_contribution": "A late stop crushes the hand",
                },
            ),
            setter("H", "requirements", 1, "traces_to", value=["ALR-2"]),
            setter("EE", "scenarios", 0, "ml_requirements", value=["MLR-2"]),
        ),
        also=frozenset({"M009"}),  # nothing exercises SSR-2
    ),
    # -- Q: requirement quality
    Case("threshold-out-of-range", "Q001", "H", setter("H", *H, "threshold", value=1.2)),
    Case("confidence-one", "Q002", "H", setter("H", *H, "confidence", value=1.0)),
    Case("confidence-negative", "Q002", "H", setter("H", *H, "confidence", value=-0.5)),
    Case("wrong-direction", "Q003", "H", setter("H", *H, "comparison", value="at_most")),
    Case("class-missing", "Q004", "H", deleter("H", *H, "class")),
    Case("class-unknown", "Q004", "H", setter("H", *H, "class", value="postive")),
    Case(
        "slice-value-unknown",
        "Q005",
        "H",
        setter("H", *H, "applies_to", "where", value={"lighting": ["dusk"]}),
    ),
    Case("robustness-unspecified", "Q006", "H", deleter("H", "requirements", 1, "perturbation")),
    Case(
        "perturbation-on-performance",
        "Q007",
        "H",
        setter("H", *H, "perturbation", value={"kind": "gaussian_noise", "magnitude": 0.1}),
    ),
    Case(
        "metric-without-its-property",
        "Q015",
        "H",
        setter("H", "requirements", 1, "metric", value="verified_robustness"),
    ),
    Case("trivial-threshold", "Q008", "H", setter("H", *H, "threshold", value=0.0)),
    Case("verified-by-unknown", "S004", "H", setter("H", *H, "verified_by", value="platfrom_test")),
    Case(
        "verified-without-data-with-metric",
        "Q021",
        "H",
        setter("H", *H, "verified_by", value="platform_test"),
    ),
    Case(
        "verified-without-data-with-perturbation",
        "Q023",
        "H",
        both(
            setter("H", "requirements", 1, "verified_by", value="simulation"),
            deleter("H", "requirements", 1, "metric"),
        ),
    ),
    Case(
        "scenario-outcome-missing",
        "Q022",
        "EE",
        deleter("EE", "scenarios", 0, "expected_outcome"),
    ),
    Case(
        "scenario-outcome-empty",
        "S005",
        "EE",
        setter("EE", "scenarios", 0, "expected_outcome", value="  "),
    ),
    Case(
        "metric-in-allocated",
        "Q009",
        "E",
        setter("E", "requirements", 0, "text", value="Recall of hands above 99%"),
    ),
    Case("not-validated", "Q010", "H", setter("J", "records", 0, "outcome", value="pending")),
    Case(
        "unknown-feature",
        "Q011",
        "H",
        setter("H", "requirements", 1, "perturbation", "features", value=["size_cm"]),
    ),
    Case(
        "metric-wrong-task",
        "Q012",
        "H",
        both(
            setter("H", *H, "metric", value="mean_absolute_error"),
            deleter("H", *H, "class"),
        ),
    ),
    Case(
        "scenario-condition-unknown",
        "Q005",
        "EE",
        setter("EE", "scenarios", 0, "conditions", value={"lighting": "dusk"}),
    ),
    Case(
        "later-rejection-wins",
        "Q010",
        "H",
        appender(
            "J",
            "records",
            item={
                "id": "VAL-2",
                "requirements": ["MLR-2"],
                "method": "review",
                "date": "2026-02-01",
                "outcome": "rejected",
                "summary": "Noise model unrealistic",
            },
        ),
    ),
    Case("development-rationale-missing", "Q014", "H", deleter("H", "development_rationale")),
    Case("category-rationale-missing", "Q014", "M", deleter("M", "category_rationale")),
    Case("platform-missing", "Q014", "AA", deleter("AA", "platform")),
    Case("behaviour-rationale-missing", "Q014", "DD", deleter("DD", "sufficiency_rationale")),
    Case("simulator-unnamed", "Q014", "EE", setter("EE", "simulation", value=True)),
    Case(
        "slice-dimension-repeated",
        "Q013",
        "H",
        setter("H", *H, "applies_to", "per", value=["size", "lighting"]),
    ),
    Case(
        "across-dimension-repeated",
        "Q013",
        "H",
        both(
            setter("H", "requirements", 1, "across", value=["size", "size"]),
            deleter("H", "requirements", 1, "perturbation"),
            setter("H", "requirements", 1, "metric", value="recall"),
            setter("H", "requirements", 1, "class", value="positive"),
        ),
    ),
    Case(
        "across-dimension-unknown",
        "X002",
        "H",
        both(
            setter("H", "requirements", 1, "across", value=["weather"]),
            deleter("H", "requirements", 1, "perturbation"),
            setter("H", "requirements", 1, "metric", value="recall"),
            setter("H", "requirements", 1, "class", value="positive"),
        ),
    ),
    Case(
        "across-on-performance",
        "Q018",
        "H",
        setter("H", *H, "across", value=["lighting"]),
        also=frozenset({"Q013"}),  # MLR-1 also keeps 'lighting' in 'where'
    ),
    Case(
        "across-beside-a-perturbation",
        "Q018",
        "H",
        setter("H", "requirements", 1, "across", value=["lighting"]),
    ),
    Case(
        "across-beside-per",
        "Q018",
        "H",
        both(
            setter("H", "requirements", 1, "across", value=["lighting"]),
            setter("H", "requirements", 1, "applies_to", value={"per": ["size"]}),
            deleter("H", "requirements", 1, "perturbation"),
            setter("H", "requirements", 1, "metric", value="recall"),
            setter("H", "requirements", 1, "class", value="positive"),
        ),
    ),
    Case(
        "precondition-column-unknown",
        "Q019",
        "H",
        setter("H", *H, "precondition", value=[{"column": "size_cm", "lt": 40.0}]),
    ),
    # -- D: data
    Case(
        "category-uncovered",
        "D001",
        "L",
        setter("L", "requirements", 2, "category", value="balance"),
    ),
    Case(
        "rule-wrong-category",
        "D002",
        "L",
        setter(
            "L",
            "requirements",
            0,
            "rule",
            value={"check": "slice_balance", "dimension": "size", "min_fraction": 0.1},
        ),
    ),
    Case("dataset-file-missing", "D003", "O", after=remove_file(DATA_FILE["O"])),
    Case(
        "audit-file-missing",
        "D003",
        "L",
        setter(
            "L",
            "requirements",
            2,
            "rule",
            value={"check": "label_error_rate", "audit_file": "data/audit.csv", "max_rate": 0.02},
        ),
    ),
    Case(
        "same-location",
        "D004",
        "O",
        both(
            setter("O", "location", value=DATA_FILE["N"]),
            setter("O", "sha256", value=None),
        ),
    ),
    Case(
        "same-content",
        "D004",
        "O",
        setter("O", "sha256", value=None),
        after=write_file(DATA_FILE["O"], DATA["N"]),
    ),
    Case(
        "data-changed",
        "D005",
        "P",
        after=write_file(DATA_FILE["P"], DATA["P"] + b"x,y,1,day\n"),
        also=frozenset({"D021"}),  # the appended row's label 'y' is no class either
    ),
    Case("label-column-missing", "D006", "N", setter("N", "label_column", value="target")),
    Case(
        "odd-column-missing", "D006", "N", setter("N", "odd_columns", value={"lighting": "light"})
    ),
    Case("content-column-missing", "D006", "O", setter("O", "content_columns", value=["sha"])),
    Case(
        "duplicates-feature-missing",
        "D006",
        "L",
        setter(
            "L",
            "requirements",
            3,
            "rule",
            value={"check": "duplicates", "max_rate": 0.01, "features": ["size_cm"]},
        ),
    ),
    Case(
        "independence-feature-missing",
        "D006",
        "L",
        setter("L", "independence", value={"features": ["size_cm"]}),
    ),
    Case("odd-dimension-without-column", "D007", "N", deleter("B", "dimensions", 1, "column")),
    Case("no-id-column", "D008", "P", deleter("P", "id_column")),
    Case(
        "gap-for-covered-category",
        "D009",
        "L",
        setter("L", "gaps", value=[{"category": "relevance", "justification": "none needed"}]),
    ),
    Case(
        "unknown-class-in-rule",
        "D010",
        "L",
        setter("L", "requirements", 3, "rule", "class", value="hand"),
    ),
    Case(
        "justification-incomplete",
        "D011",
        "M",
        setter("M", "arguments", 0, "requirements", value=["MLR-1"]),
    ),
    Case(
        "group-column-partial",
        "D012",
        "O",
        both(
            setter("N", "group_column", value="sample_id"),
            setter("P", "group_column", value="sample_id"),
        ),
    ),
    # -- D: dataset content against its declaration (D020-D023)
    Case("samples-one-short", "D020", "O", setter("O", "samples", value=59)),
    Case("samples-one-over", "D020", "N", setter("N", "samples", value=61)),
    Case("samples-absurd", "S005", "O", setter("O", "samples", value=10**30)),
    Case("label-not-a-class", "D021", "O", **rewrite_data("O", _relabel(3, "maybe"))),
    Case("label-empty", "D021", "N", **rewrite_data("N", _relabel(1, ""))),
    Case("label-blank", "D021", "O", **rewrite_data("O", _relabel(5, "  "))),
    Case("label-case-differs", "D021", "O", **rewrite_data("O", _relabel(2, "Positive"))),
    Case("ids-all-the-same", "D022", "O", **rewrite_data("O", _reid(range(1, 61), "X"))),
    Case("ids-all-empty", "D022", "O", **rewrite_data("O", _reid(range(1, 61), ""))),
    Case("id-repeated-once", "D022", "N", **rewrite_data("N", _reid(range(7, 8), "S1-0003"))),
    Case("id-empty-once", "D022", "P", **rewrite_data("P", _reid(range(9, 10), ""))),
    Case("header-only-test-data", "D023", "O", **rewrite_data("O", lambda lines: lines[:1])),
    Case("header-only-dev-data", "D023", "N", **rewrite_data("N", lambda lines: lines[:1])),
    Case(
        "header-and-blank-lines",
        "D023",
        "P",
        **rewrite_data("P", lambda lines: [lines[0], "", ""]),
    ),
    Case(
        "empty-data-file",
        "D006",
        "O",
        **rewrite_data("O", lambda lines: []),
    ),
    Case(
        "monitor-file-outside",
        "F009",
        "DD",
        setter("DD", "monitor", value={"file": "../../m.json"}),
    ),
    Case(
        "monitor-file-absolute",
        "F009",
        "DD",
        setter("DD", "monitor", value={"file": "/tmp/m.json"}),
    ),
    Case(
        "field-log-outside",
        "F009",
        "DD",
        setter("DD", "field_log", value={"path": "../field.jsonl"}),
    ),
    # -- M: model, verification, deployment
    Case(
        "hyperparameter-on-test-data",
        "M001",
        "U",
        setter("U", "hyperparameters", 0, "chosen_on", value="O"),
    ),
    Case(
        "selection-on-verification-data",
        "M001",
        "U",
        setter("U", "selection", "chosen_on", value="P"),
    ),
    Case("threshold-data-unstated", "M014", "U", deleter("U", "thresholds", 0, "chosen_on")),
    Case(
        "hyperparameter-data-unstated",
        "M014",
        "U",
        deleter("U", "hyperparameters", 0, "chosen_on"),
    ),
    Case("selection-data-unstated", "M014", "U", deleter("U", "selection", "chosen_on")),
    Case(
        "threshold-data-unknown", "S004", "U", setter("U", "thresholds", 0, "chosen_on", value="X")
    ),
    Case("trained-on-verification-data", "M002", "U", setter("U", "data_used", value=["N", "P"])),
    Case("model-trained-on-test-data", "M002", "V", setter("V", "trained_on", value=["N", "O"])),
    Case("model-file-missing", "M003", "V", after=remove_file("model/model.bin")),
    Case("model-changed", "M004", "V", setter("V", "sha256", value="0" * 64)),
    Case(
        "requirement-unverified",
        "M005",
        "H",
        setter("AA", "activities", 0, "requirements", value=["MLR-1"]),
    ),
    Case(
        "formal-without-encoding",
        "M006",
        "AA",
        setter("AA", "activities", 0, "method", value="formal"),
    ),
    Case("no-verifier", "M007", "AA", setter("AA", "verifiers", value=[])),
    Case("behaviour-unhandled", "M008", "DD", setter("DD", "behaviours", 0, "response", value="")),
    Case(
        "scenario-gap",
        "M009",
        "E",
        both(
            appender("A", "requirements", item=SSR2),
            setter("E", "requirements", 0, "traces_to", value=["SSR-1", "SSR-2"]),
        ),
    ),
    Case(
        "model-not-selected",
        "M011",
        "V",
        both(
            appender("U", "candidates", item={"id": "CAND-2", "description": "RF"}),
            setter("V", "candidate", value="CAND-2"),
        ),
    ),
    Case(
        "no-independent-verifier",
        "M012",
        "AA",
        setter("AA", "verifiers", 0, "independent", value=False),
    ),
    Case("class-order-mismatch", "M010", "V", setter("V", "class_order", value=["a", "b"])),
    # -- D: sealed verification data
    Case("sealed-plaintext-left", "D013", "P", after=sealed(keep_plaintext=True)),
    Case(
        "sealed-plaintext-restored",
        "D013",
        "P",
        after=sealed(write_file(DATA_FILE["P"], DATA["P"])),
    ),
    Case("sealed-file-missing", "D014", "P", after=sealed(remove_file(SEALED_P))),
    Case("sealed-file-not-sealed", "D014", "P", after=sealed(write_file(SEALED_P, DATA["P"]))),
    Case(
        "sealed-header-edited",
        "D014",
        "P",
        after=sealed(edit_text(SEALED_P, '"kind":"file"', '"kind": "file"')),
    ),
    Case(
        "sealed-hash-differs",
        "D014",
        "P",
        after=sealed(edit_text(P_YAML, P_SHA256, "a" * 64)),
    ),
    Case(
        "access-log-line-edited",
        "D015",
        "P",
        after=sealed(edit_text(ACCESS_LOG, '"actor":"', '"actor":"not ')),
    ),
    Case(
        "access-log-line-deleted",
        "D015",
        "P",
        after=sealed(use_sealed_data(2), lambda root: _drop_log_line(root, 1)),
    ),
    Case("access-log-deleted", "D015", "P", after=sealed(remove_file(ACCESS_LOG))),
    Case(
        "sealed-data-over-used",
        "D016",
        "P",
        after=sealed(edit_text(P_YAML, "max_uses: 5", "max_uses: 1"), use_sealed_data(2)),
    ),
    Case("sealed-byte-flipped", "D017", "P", after=sealed(_flip_last_byte)),
    Case("seal-statement-missing", "D017", "P", after=sealed(remove_file(SEALED_P + ".sig"))),
    Case("verifier-key-undeclared", "D018", "manifest", after=sealed(_undeclare_verifier_key)),
    Case(
        "engine-name-unknown",
        "S004",
        "manifest",
        setter("manifest", "engine", value={"name": "spark"}),
    ),
    Case(
        "engine-workers-zero",
        "S005",
        "manifest",
        setter("manifest", "engine", value={"name": "dask", "workers": 0}),
    ),
    Case(
        "engine-scheduler-no-address",
        "S005",
        "manifest",
        setter("manifest", "engine", value={"scheduler": "verify-1"}),
    ),
    Case(
        "engine-local-with-scheduler",
        "S006",
        "manifest",
        setter("manifest", "engine", value={"name": "local", "scheduler": "tls://v:8786"}),
    ),
    Case(
        "engine-scheduler-and-workers",
        "S006",
        "manifest",
        setter("manifest", "engine", value={"scheduler": "tls://v:8786", "workers": 2}),
    ),
    Case(
        "engine-unknown-key",
        "S001",
        "manifest",
        setter("manifest", "engine", value={"name": "dask", "chunk_row": 1024}),
    ),
    Case(
        "argument-type-unknown",
        "S004",
        "manifest",
        setter(
            "manifest", "case", value={"argument": [{"id": "G-1", "type": "claim", "text": "x"}]}
        ),
    ),
    Case(
        "argument-evidence-key-bad",
        "S005",
        "manifest",
        setter(
            "manifest",
            "case",
            value={
                "argument": [
                    {"id": "Sn-1", "type": "solution", "text": "x", "evidence": ["../../etc"]}
                ]
            },
        ),
    ),
    # -- [RV] review records ------------------------------------------------------------------
    Case(
        "review-unknown-item",
        "X015",
        "RV",
        setter("RV", *RV, "items", value=[{"item": "DR-99", "sha256": "0" * 64}]),
    ),
    Case(
        "review-of-a-review",
        "X015",
        "RV",
        setter("RV", *RV, "items", value=[{"item": "RV-1", "sha256": "0" * 64}]),
    ),
    Case(
        "review-document-missing",
        "X016",
        "RV",
        setter("RV", *RV, "documents", value=[{"file": "docs/nowhere.pdf", "sha256": "0" * 64}]),
    ),
    Case(
        "review-document-escapes",
        "X016",
        "RV",
        setter("RV", *RV, "documents", value=[{"file": "../outside.txt", "sha256": "0" * 64}]),
    ),
    Case(
        "review-not-pinned",
        "Q024",
        "RV",
        setter("RV", *RV, "items", 0, "sha256", value="pending"),
    ),
    Case("review-pin-not-hex", "S005", "RV", setter("RV", *RV, "items", 0, "sha256", value="abc")),
    Case("review-no-reviewer", "S005", "RV", setter("RV", *RV, "reviewers", value=[])),
    Case(
        "review-independence-unknown",
        "S004",
        "RV",
        setter("RV", *RV, "reviewers", 0, "independence", value="friendly"),
    ),
    Case("review-method-unknown", "S004", "RV", setter("RV", *RV, "method", value="glance")),
    Case("review-decision-unknown", "S004", "RV", setter("RV", *RV, "decision", value="maybe")),
    Case("review-names-nothing", "S002", "RV", setter("RV", *RV, "items", value=[])),
    Case(
        "review-conditions-missing",
        "S002",
        "RV",
        setter("RV", *RV, "decision", value="accepted_with_conditions"),
    ),
    Case("review-sample-missing", "S002", "RV", setter("RV", *RV, "method", value="audit_sample")),
    Case(
        "review-sample-too-large",
        "S006",
        "RV",
        both(
            setter("RV", *RV, "method", value="audit_sample"),
            setter(
                "RV",
                *RV,
                "sample",
                value={"size": 50, "population": 10, "unit": "frame", "selection": "seeded"},
            ),
        ),
    ),
    Case(
        "review-finding-unexplained",
        "S002",
        "RV",
        setter("RV", *RV, "findings", 0, "resolution", value=""),
    ),
    Case(
        "review-finding-twice",
        "S006",
        "RV",
        appender(
            "RV",
            *RV,
            "findings",
            item={"id": "F1", "text": "again", "severity": "minor", "disposition": "open"},
        ),
    ),
    Case("review-date-bad", "S003", "RV", setter("RV", *RV, "date", value="yesterday")),
]


def _drop_log_line(root: Path, index: int) -> None:
    lines = (root / ACCESS_LOG).read_text("utf-8").splitlines(keepends=True)
    del lines[index]
    (root / ACCESS_LOG).write_text("".join(lines), "utf-8")


# Text the reported line must contain: the location points at the offending value itself.
LOCATED = {
    "engine-name-unknown": "spark",
    "engine-unknown-key": "chunk_row",
    "engine-workers-zero": "workers",
    "unknown-key": "treshold",
    "unknown-top-key": "compnent",
    "bad-choice": "performace",
    "unknown-metric": "recal",
    "bad-union-tag": "numric",
    "dangling-id": "SSR-9",
    "wrong-kind": "HAZ-1",
    "string-for-number": "high",
    "threshold-out-of-range": "1.2",
    "confidence-one": "confidence",
    "wrong-direction": "at_most",
    "class-unknown": "postive",
    "slice-value-unknown": "dusk",
    "precondition-column-unknown": "size_cm",
    "across-on-performance": "across",
    "performance-without-confidence": "MLR-1",
    "default-confidence-out-of-range": "1.5",
    "scenario-condition-unknown": "dusk",
    "bad-id-pattern": "MLR 1",
    "duplicate-key": "version: '2'",
    "bad-date": "2026-13-45",
    "hyperparameter-on-test-data": "chosen_on: O",
    "bad-explicit-tag": "!!timestamp",
    "control-character": "version",
    "header-mismatch": "artefact: L",
    "unknown-feature": "size_cm",
    "unknown-class-in-rule": "hand",
    "content-column-missing": "sha",
    "duplicates-feature-missing": "size_cm",
    "independence-feature-missing": "size_cm",
    "sealed-plaintext-left": "location:",
    "sealed-file-missing": "file:",
    "sealed-file-not-sealed": "file:",
    "sealed-hash-differs": "sha256:",
    "access-log-line-edited": "access_log:",
    "sealed-data-over-used": "max_uses: 1",
    "band-end-not-a-boolean": "sometimes",
    "slice-banding-unknown": "fnie",
    "slice-banding-on-categorical": "lighting",
    "slice-banding-unused-dimension": "size",
    "slice-band-not-of-its-banding": "small",
    "cells-banding-unknown": "fine",
    "cells-banding-unused-dimension": "lighting",
    "balance-banding-unknown": "fien",
    "condition-monitor-unnamed": "assured_by",
    "condition-monitor-unknown": "EB-9",
    "condition-monitor-wrong-kind": "HAZ-1",
    "condition-assurance-bad": "hope",
    "asil-not-the-table": "asil",
    "exposure-class-unknown": "E5",
    "asil-not-a-level": "asil: E",
    "criticality-not-a-level": "extreme",
    "refines-unknown": "MLR-9",
    "refines-itself": "refines: MLR-1",
    "refinement-cycle": "refines: MLR-2",
    "scenario-ml-unknown": "MLR-9",
    "scenario-ml-outside-its-requirements": "MLR-2",
    "verified-by-unknown": "platfrom_test",
    "verified-without-data-with-metric": "metric: recall",
    "verified-without-data-with-perturbation": "perturbation",
    "scenario-outcome-missing": "id: SC-1",
    "threshold-data-unstated": "name: t",
    "selection-data-unstated": "candidate: CAND-1",
}


def test_the_table_is_large_and_covers_every_code() -> None:
    from amlas.diagnostics import CODES

    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert set(LOCATED) <= {c.id for c in CASES}
    # G codes come from building the safety case; tests/case/test_build.py has one each
    # M013 (evidence signatures) comes from the evidence store: tests/cli/test_run_cli.py
    # F010/F011 (outputs amlas may not replace) come from `amlas case`/`report`:
    # tests/cli/test_outputs.py
    # S008/S009 (a plug-in claimed twice, failing to load) come from installed packages:
    # tests/test_plugins.py
    # R codes (problems found while running) come from the commands that run:
    # tests/cli/test_bad_runs.py has a bad run for each
    # D024/D025 (object tables and predictions files that do not fit their dataset) are
    # found when the run reads them: tests/checks/test_outputs.py has a case for each
    # F012-F016, X017 and X018 (a system project and its ML components) need a system
    # around the project: tests/system/test_system.py has one each
    # A001-A005 (sign-off statements) need signed files: tests/case/test_signoff.py; B
    # codes (the assessor's bundle) come from amlas verify-bundle: tests/bundle/
    project_codes = {code for code in CODES if not code.startswith(("G", "R", "B"))} - {
        "A001",
        "A002",
        "A003",
        "A004",
        "A005",
        "F012",
        "F013",
        "F014",
        "F015",
        "F016",
        "X017",
        "X018",
        "D024",
        "D025",
        "M013",
        "F010",
        "F011",
        "S008",
        "S009",
    }
    assert {c.code for c in CASES} == project_codes, "every code needs a malformed example"


def _expected_file(case: Case) -> str:
    return "amlas.yaml" if case.file == "manifest" else ARTEFACTS[case.file].default_path


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code}-{c.id}" for c in CASES])
def test_malformed_project_gives_its_code(case: Case, tmp_path: Path) -> None:
    docs = documents()
    case.change(docs)
    root = write_project(tmp_path / "p", docs)
    case.after(root)

    result = check_project(root)

    found = [d for d in result.diagnostics if d.code == case.code]
    assert found, f"expected {case.code}, got:\n" + "\n".join(
        d.format() for d in result.diagnostics
    )
    assert any(d.location.path == _expected_file(case) for d in found), [d.format() for d in found]
    for diagnostic in found:
        assert diagnostic.message, "a diagnostic always says what is wrong"
        if diagnostic.code not in {"F001", "F002", "F003", "F009"}:  # may be whole-file
            assert diagnostic.location.line >= 1, diagnostic.format()
    if case.id in LOCATED:
        lines = (root / _expected_file(case)).read_text("utf-8", errors="replace").splitlines()
        reported = {lines[d.location.line - 1] for d in found if d.location.line >= 1}
        assert any(LOCATED[case.id] in line for line in reported), (LOCATED[case.id], reported)
    unexpected = {
        d.code
        for d in result.diagnostics
        if d.severity is not Severity.INFO and d.code != case.code
    } - case.also
    assert not unexpected, "\n".join(d.format() for d in result.diagnostics)


TRACE_CODES = {"X002", "X004", "X005", "X006", "X007", "X008", "X013"}


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c.code in TRACE_CODES
        and c.file in {"A", "E", "H", "L"}
        # ODD references, not trace links
        and c.id
        not in {
            "dangling-slice-dimension",
            "slice-banding-dimension-unknown",
            "across-dimension-unknown",
        }
    ],
    ids=lambda c: c.id,
)
def test_trace_shows_a_gap_wherever_check_reports_a_broken_link(case: Case, tmp_path: Path) -> None:
    docs = documents()
    case.change(docs)
    root = write_project(tmp_path / "p", docs)
    result = check_project(root)
    assert build_trace(result.project).gap_count > 0


def test_the_clean_project_traces_without_gaps(tmp_path: Path) -> None:
    result = check_project(write_project(tmp_path / "p"))
    matrix = build_trace(result.project)
    assert matrix.gap_count == 0
    assert not matrix.missing
