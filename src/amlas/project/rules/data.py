"""Data rules for [L], [M] and the datasets [N] [O] [P] (D001-D011; AMLAS R6, R8, R9)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from amlas.adapters import CsvLines, RepeatedValues, csv_sample_rows
from amlas.diagnostics import Diagnostics, Location, did_you_mean
from amlas.plugins import PluginError, registry
from amlas.project._content import (
    ContentTally,
    as_table_text,
    label_classes,
    numeric_cells,
)
from amlas.project._manifest import MANIFEST_FILE
from amlas.project._paths import path_problem, probe
from amlas.project._project import Project
from amlas.project.artefacts import (
    CATEGORIES,
    DataJustification,
    DatasetDocument,
    ModelReference,
)
from amlas.project.artefacts.data import Duplicates
from amlas.project.rules._registry import reads_data, rule
from amlas.sealing import AccessLog, SealError, check_seal, check_usage, read_header


def _category(check: str) -> str | None:
    """The AMLAS category the data rule ``check`` verifies, from its plug-in (None when
    the plug-in does not load: 'amlas run' and 'amlas plugins' say why)."""
    try:
        category = registry("amlas.data_rules").get(check).category
    except (PluginError, AttributeError):
        return None
    return str(category)


@rule
def categories_covered(project: Project, diagnostics: Diagnostics) -> None:
    data = project.data_requirements
    if data is None:
        return
    covered = {req.category for req in data.requirements}
    gaps = {gap.category: i for i, gap in enumerate(data.gaps)}
    for category in CATEGORIES:
        if category not in covered and category not in gaps:
            diagnostics.add(
                "D001",
                f"no data requirement covers {category!r} and no gap is justified",
                project.locate("L", ("requirements",), key=True),
                hint=f"add a {category} requirement, or 'gaps: [{{category: {category}, "
                "justification: ...}]'",
            )
        if category in covered and category in gaps:
            diagnostics.add(
                "D009",
                f"a gap is declared for {category!r}, which requirements already cover",
                project.locate("L", ("gaps", gaps[category], "category")),
            )


@rule
def rules_fit_categories(project: Project, diagnostics: Diagnostics) -> None:
    data = project.data_requirements
    if data is None:
        return
    component = project.component
    classes = component.class_names() if component else None
    for i, req in enumerate(data.requirements):
        if req.rule is None:
            continue
        expected = _category(req.rule.check)
        if expected is not None and expected != req.category:
            diagnostics.add(
                "D002",
                f"{req.id}: check {req.rule.check!r} verifies {expected}, but the requirement "
                f"is about {req.category}",
                project.locate("L", ("requirements", i, "rule", "check")),
            )
        name = getattr(req.rule, "class_", None)
        if name is not None and classes is not None and name not in classes:
            diagnostics.add(
                "D010",
                f"{req.id}: class {name!r} is not a class of the ML component [D]",
                project.locate("L", ("requirements", i, "rule", "class")),
                hint=did_you_mean(name, classes) or f"classes: {', '.join(classes)}",
            )
        audit = getattr(req.rule, "audit_file", None)
        if audit is not None:
            require_file(
                project,
                "L",
                ("requirements", i, "rule", "audit_file"),
                audit,
                "audit file",
                diagnostics,
            )
        confidence = getattr(req.rule, "confidence", None)
        if confidence is not None and not 0.0 < confidence < 1.0:
            diagnostics.add(
                "Q002",
                f"{req.id}: confidence={confidence:g} is outside (0, 1)",
                project.locate("L", ("requirements", i, "rule", "confidence")),
            )


def require_file(
    project: Project,
    letter: str,
    path: tuple[str | int, ...],
    relative: str,
    what: str,
    diagnostics: Diagnostics,
    *,
    missing_code: str = "D003",
) -> Path | None:
    """The file (or image folder) at ``relative``, or None after reporting why not."""
    at = project.locate(letter, path)
    problem = path_problem(project.root, relative)
    if problem is not None:
        diagnostics.add("F009", f"{what} {relative!r} {problem}", at)
        return None
    target = project.root / relative
    kind = probe(target)
    if kind == "missing":
        diagnostics.add(missing_code, f"{what} {relative!r} does not exist", at)
        return None
    if kind not in ("file", "directory"):
        reason = "is not a regular file" if kind == "special" else kind
        diagnostics.add("F003", f"{what} {relative!r} {reason}", at)
        return None
    return target


@rule
@reads_data
def datasets_exist_and_differ(project: Project, diagnostics: Diagnostics) -> None:
    seen_location: dict[str, str] = {}
    seen_hash: dict[str, str] = {}
    for letter, dataset in project.datasets().items():
        if dataset.sealed is not None:
            _check_sealed(project, letter, dataset, diagnostics)
            continue
        target = require_file(
            project, letter, ("location",), dataset.location, f"[{letter}] data", diagnostics
        )
        if path_problem(project.root, dataset.location) is not None:
            continue  # reported by require_file
        key = str((project.root / dataset.location).resolve())
        if key in seen_location:
            diagnostics.add(
                "D004",
                f"[{letter}] and [{seen_location[key]}] both read {dataset.location!r}",
                project.locate(letter, ("location",)),
            )
            continue
        seen_location[key] = letter
        if dataset.metadata_table is not None:
            require_file(
                project,
                letter,
                ("metadata_table",),
                dataset.metadata_table,
                "metadata table",
                diagnostics,
            )
        if target is None:
            continue
        try:
            actual = project.content_hash(target)
        except (OSError, RuntimeError) as exc:
            diagnostics.add(
                "F003",
                f"cannot read {dataset.location!r}: {getattr(exc, 'strerror', None) or exc}",
                project.locate(letter, ("location",)),
            )
            continue
        if actual in seen_hash:
            diagnostics.add(
                "D004",
                f"[{letter}] {dataset.location!r} has the same content as [{seen_hash[actual]}]",
                project.locate(letter, ("location",)),
            )
        seen_hash.setdefault(actual, letter)
        if dataset.sha256 is not None and dataset.sha256 != actual:
            diagnostics.add(
                "D005",
                f"[{letter}] {dataset.location!r} has sha256 {actual[:12]}..., declared "
                f"{dataset.sha256[:12]}...",
                project.locate(letter, ("sha256",)),
                hint=f"after review, set 'sha256: {actual}'",
            )
        if dataset.format == "csv" and target.is_file():
            _check_columns(project, letter, dataset, target, diagnostics)


def _check_companions(
    project: Project, letter: str, dataset: DatasetDocument, diagnostics: Diagnostics
) -> None:
    """The files sealed with a sealed dataset (a detector's objects, the predictions [V]
    declares on it) are sealed too: their plaintext is gone and the objects' sealed copy
    is there (predictions arrive sealed with 'amlas predictions import')."""
    root = project.root
    model = project.get("V", ModelReference)
    companions: list[tuple[str, tuple[str | int, ...], str, str]] = []
    if dataset.objects is not None:
        companions.append((letter, ("objects", "location"), dataset.objects.location, "objects"))
    spec = model.predictions_for(letter) if model is not None else None
    if spec is not None:
        companions.append(("V", ("predictions", letter, "location"), spec.location, "predictions"))
    sealer = {"objects": "amlas seal", "predictions": "amlas predictions import"}
    for artefact, path, location, what in companions:
        if path_problem(root, location) is None and probe(root / location) == "file":
            diagnostics.add(
                "D013",
                f"[{letter}] is sealed, yet the plaintext of its {what} {location!r} is in the "
                "project",
                project.locate(artefact, path),
                hint=f"the verifier seals it ({sealer[what]}); delete the plaintext and purge "
                "it from version-control history",
            )
        elif what == "objects" and not (root / (location + ".sealed")).is_file():
            diagnostics.add(
                "D014",
                f"[{letter}] is sealed, but the sealed copy of its objects "
                f"{location + '.sealed'!r} is missing",
                project.locate(artefact, path),
                hint="restore it from version control, or have the verifier re-seal [P]",
            )


def _check_sealed(
    project: Project, letter: str, dataset: DatasetDocument, diagnostics: Diagnostics
) -> None:
    """A sealed dataset: its encrypted copy is readable, seals the declared content and is
    the file the verifier signed, its plaintext is gone, and its access log is intact and
    signed. None of this needs the key: the declared public key is enough."""
    sealed = dataset.sealed
    assert sealed is not None
    public_key = project.manifest.verifier_key
    if public_key is None:
        diagnostics.add(
            "D018",
            f"[{letter}] is sealed, but amlas.yaml declares no verifier_key: the seal, the "
            "access log and the verification evidence cannot be checked",
            _manifest_location(project),
            hint="add 'verifier_key: ed25519:...' as printed by 'amlas keygen' (or "
            "'amlas seal' with the verifier key writes it)",
        )
    if path_problem(project.root, dataset.location) is None and probe(
        project.root / dataset.location
    ) in ("file", "directory"):
        diagnostics.add(
            "D013",
            f"[{letter}] is sealed, yet its plaintext {dataset.location!r} is in the project",
            project.locate(letter, ("location",)),
            hint="delete it (and purge it from version-control history); the sealed copy "
            f"{sealed.file!r} is what the verifier uses",
        )
    _check_companions(project, letter, dataset, diagnostics)
    target = require_file(
        project,
        letter,
        ("sealed", "file"),
        sealed.file,
        f"sealed copy of [{letter}]",
        diagnostics,
        missing_code="D014",
    )
    declared = dataset.sha256
    content: str | None = None  # the SHA-256 of the content the sealed file holds
    if target is not None:
        try:
            header = read_header(target)
        except SealError as exc:
            diagnostics.add("D014", str(exc), project.locate(letter, ("sealed", "file")))
        else:
            content = header.plaintext_sha256
            # a sealed folder is a tar archive: its header hashes the archive, while the
            # folder is declared by its tree hash, which only the key could recompute;
            # `amlas seal` compared the folder with it, and the archive is signed (D017)
            if (
                declared is not None
                and header.plaintext_sha256 != declared
                and header.kind == "file"
            ):
                diagnostics.add(
                    "D014",
                    f"[{letter}] {sealed.file!r} seals content with sha256 "
                    f"{header.plaintext_sha256[:12]}..., declared {declared[:12]}...",
                    project.locate(letter, ("sha256",)),
                    hint="re-seal the reviewed data with 'amlas seal'",
                )
            if header.kind == "tar":
                declared = header.plaintext_sha256  # what the access log counts
            declared = declared or header.plaintext_sha256
            if public_key is not None:
                for seal_problem in check_seal(target, public_key):
                    diagnostics.add(
                        "D017",
                        f"[{letter}] {sealed.file!r}: {seal_problem}",
                        project.locate(letter, ("sealed", "file")),
                        hint="restore the sealed file and its .sig from version control, or "
                        "have the verifier re-seal the reviewed data",
                    )
    if path_problem(project.root, sealed.access_log) is not None:
        diagnostics.add(
            "F009",
            f"access log {sealed.access_log!r} {path_problem(project.root, sealed.access_log)}",
            project.locate(letter, ("sealed", "access_log")),
        )
        return
    log_path = project.root / sealed.access_log
    if probe(log_path) == "missing":
        # 'amlas seal' logs the seal before it marks the artefact sealed, so a sealed
        # artefact without its log lost the record of every use (and the use count).
        diagnostics.add(
            "D015",
            f"[{letter}] is sealed, but its access log {sealed.access_log!r} is missing",
            project.locate(letter, ("sealed", "access_log")),
            hint="restore the log from version control; without it nobody can show who used "
            "the verification data, or how often",
        )
        return
    log = AccessLog(log_path)
    damaged = log.verify(public_key=public_key)
    for problem in damaged:
        diagnostics.add(
            "D015",
            f"{sealed.access_log}:{problem.line}: {problem.message}",
            project.locate(letter, ("sealed", "access_log")),
            hint="restore the log from version control; a damaged log cannot show who used "
            "the verification data",
        )
    if content is not None and not damaged:
        # the verifier's signed log says what was sealed last: a sealed file (and its
        # statement) swapped for another the same key sealed holds other content
        seals = [
            e
            for e in log.entries()
            if e.event == "seal"
            and e.dataset == letter
            and e.details.get("sealed_file") == sealed.file
        ]
        if seals and seals[-1].dataset_sha256 != content:
            diagnostics.add(
                "D014",
                f"[{letter}] {sealed.file!r} holds content with sha256 {content[:12]}..., "
                f"but its access log records sealing {seals[-1].dataset_sha256[:12]}...",
                project.locate(letter, ("sealed", "file")),
                hint="restore the sealed file and its .sig from version control, or have "
                "the verifier re-seal the reviewed data",
            )
    if declared is not None:
        uses = max(log.uses(declared), log.unseals(declared))  # see AccessLog.unseals
        warning = check_usage(uses, sealed.max_uses)
        if warning is not None:
            diagnostics.add("D016", warning, project.locate(letter, ("sealed", "max_uses")))


def _check_columns(
    project: Project,
    letter: str,
    dataset: DatasetDocument,
    target: Path,
    diagnostics: Diagnostics,
) -> None:
    try:
        with target.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        diagnostics.add(
            "F003",
            f"cannot read the header of {dataset.location!r}: {exc}",
            project.locate(letter, ("location",)),
        )
        return
    if not header:
        diagnostics.add(
            "D006",
            f"[{letter}] {dataset.location!r} is empty: no header row with column names",
            project.locate(letter, ("location",)),
        )
        return
    columns = set(header)
    wanted: list[tuple[tuple[str | int, ...], str, str]] = []
    if dataset.label_column:
        wanted.append((("label_column",), dataset.label_column, "label column"))
    if dataset.id_column:
        wanted.append((("id_column",), dataset.id_column, "sample-id column"))
    if dataset.group_column:
        wanted.append((("group_column",), dataset.group_column, "group column"))
    for i, name in enumerate(dataset.feature_columns):
        wanted.append((("feature_columns", i), name, "feature column"))
    for i, name in enumerate(dataset.content_columns):
        wanted.append((("content_columns", i), name, "content column"))
    environment = project.environment
    if environment is not None:
        per_object = set(dataset.objects.odd_columns) if dataset.objects is not None else set()
        for dimension in environment.dimensions:
            column = dataset.odd_columns.get(dimension.id, dimension.column)
            if column is None and dimension.id in per_object:
                continue  # the objects carry it (a pedestrian's distance), not the images
            if column is None:
                diagnostics.add(
                    "D007",
                    f"[{letter}] says no column for ODD dimension {dimension.id!r}, and [B] "
                    "gives no default",
                    project.locate(letter, ("odd_columns",)),
                    hint=f"add 'odd_columns: {{{dimension.id}: <column>}}'",
                )
                continue
            path: tuple[str | int, ...] = (
                ("odd_columns", dimension.id)
                if dimension.id in dataset.odd_columns
                else ("location",)
            )
            wanted.append((path, column, f"column of ODD dimension {dimension.id!r}"))
    if not dataset.feature_columns and project.component is not None:
        for name in project.component.feature_names():
            wanted.append((("location",), name, "input feature of [D]"))
    complete = True
    for path, column, what in wanted:
        if column not in columns:
            complete = False
            diagnostics.add(
                "D006",
                f"[{letter}] {dataset.location!r} has no {what} {column!r}",
                project.locate(letter, path),
                hint=did_you_mean(column, columns),
            )
    if complete:
        _check_content(project, letter, dataset, target, header, diagnostics)


_CHECK_ROWS = 1 << 16
"""Rows of a CSV file `amlas check` holds at once (its ids and labels only)."""
_CHECK_IDS_BUFFER = 16 << 20
"""Bytes of ids held in memory before they are spilled to disk (a small file's ids never
are)."""


def _check_content(
    project: Project,
    letter: str,
    dataset: DatasetDocument,
    target: Path,
    header: list[str],
    diagnostics: Diagnostics,
) -> None:
    """The rows of a plaintext CSV file against the declaration (D020-D023), in memory
    bounded by :data:`_CHECK_ROWS` rows of the id and label columns, whatever the size
    of the file: the rows are checked a block at a time (:class:`ContentTally`) and the
    ids spilled to disk to find those that repeat anywhere (``RepeatedValues``). Whether
    a column reads as numbers ('1.0' is the label '1') is decided over the whole column
    first, as a table reader decides it; a pass that stops at the first cell that is not
    a number (at once for a column of text)."""
    label_at = header.index(dataset.label_column) if dataset.label_column else None
    id_at = header.index(dataset.id_column) if dataset.id_column else None
    wanted = [at for at in (label_at, id_at) if at is not None]
    try:
        numeric = _numeric_columns(target, wanted)
        with RepeatedValues(buffer=_CHECK_IDS_BUFFER) as spill:
            tally = ContentTally(
                dataset,
                letter,
                classes=label_classes(project.component),
                spill=spill,
                locate=CsvLines(target),
            )
            for labels, ids, count in _row_blocks(target, label_at, id_at):
                tally.add(
                    ids=as_table_text(ids, numeric=numeric[id_at]) if id_at is not None else None,
                    labels=(
                        as_table_text(labels, numeric=numeric[label_at])
                        if label_at is not None
                        else None
                    ),
                    count=count,
                )
            problems = tally.problems()
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        diagnostics.add(
            "F003",
            f"cannot read {dataset.location!r}: {exc}",
            project.locate(letter, ("location",)),
        )
        return
    for problem in problems:
        diagnostics.add(problem.code, problem.message, project.locate(letter, (problem.field,)))


def _csv_rows(target: Path) -> Iterator[list[str]]:
    """The sample rows of a CSV file (not its header; a blank line is no sample, as the
    table readers skip it too)."""
    for _, row in csv_sample_rows(target):
        yield row


def _numeric_columns(target: Path, columns: list[int]) -> dict[int, bool]:
    """Whether each column (by position) holds numbers only, empty cells aside."""
    numeric = dict.fromkeys(columns, True)
    if not columns:
        return numeric
    for row in _csv_rows(target):
        for at in columns:
            if numeric[at] and not numeric_cells([row[at] if at < len(row) else ""]):
                numeric[at] = False
        if not any(numeric.values()):
            break
    return numeric


def _row_blocks(
    target: Path, label_at: int | None, id_at: int | None
) -> Iterator[tuple[list[str], list[str], int]]:
    """(labels, ids, rows) of each block of :data:`_CHECK_ROWS` sample rows."""
    labels: list[str] = []
    ids: list[str] = []
    count = 0
    for row in _csv_rows(target):
        count += 1
        if label_at is not None:
            labels.append(row[label_at] if label_at < len(row) else "")
        if id_at is not None:
            ids.append(row[id_at] if id_at < len(row) else "")
        if count == _CHECK_ROWS:
            yield labels, ids, count
            labels, ids, count = [], [], 0
    if count:
        yield labels, ids, count


@rule
@reads_data
def duplicate_features_exist(project: Project, diagnostics: Diagnostics) -> None:
    """The features [L] names for the near-duplicate searches (``independence.features``,
    a ``duplicates`` rule's ``features``) are columns of the CSV datasets searched."""
    data = project.data_requirements
    if data is None:
        return
    datasets = project.datasets()
    named: list[tuple[tuple[str | int, ...], str, list[str]]] = [
        (("independence", "features", i), name, list(datasets))
        for i, name in enumerate(data.independence.features)
    ]
    for i, req in enumerate(data.requirements):
        if isinstance(req.rule, Duplicates):
            named += [
                (("requirements", i, "rule", "features", j), name, list(req.datasets))
                for j, name in enumerate(req.rule.features)
            ]
    headers: dict[str, set[str] | None] = {}
    for path, name, letters in named:
        for letter in letters:
            if letter not in datasets:
                continue
            if letter not in headers:
                headers[letter] = _csv_header(project, datasets[letter])
            header = headers[letter]
            if header is not None and name not in header:
                diagnostics.add(
                    "D006",
                    f"[{letter}] {datasets[letter].location!r} has no column {name!r}, named by "
                    "[L] for the near-duplicate search",
                    project.locate("L", path),
                    hint=did_you_mean(name, header),
                )


def _csv_header(project: Project, dataset: DatasetDocument) -> set[str] | None:
    """The column names of a plaintext CSV dataset; None for other formats, sealed data
    and unreadable files (whose problems other rules report)."""
    if dataset.format != "csv" or dataset.sealed is not None:
        return None
    if path_problem(project.root, dataset.location) is not None:
        return None
    target = project.root / dataset.location
    if probe(target) != "file":
        return None
    try:
        with target.open(newline="", encoding="utf-8-sig") as handle:
            return set(next(csv.reader(handle), [])) or None
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


@rule
def datasets_name_samples(project: Project, diagnostics: Diagnostics) -> None:
    for letter, dataset in project.datasets().items():
        if dataset.id_column is None:
            diagnostics.add(
                "D008",
                f"[{letter}] declares no 'id_column'",
                project.locate(letter, ("label_column",)),
            )


@rule
def group_columns_consistent(project: Project, diagnostics: Diagnostics) -> None:
    datasets = project.datasets()
    declared = {letter for letter, d in datasets.items() if d.group_column}
    if declared and len(datasets) == 3 and len(declared) < 3:
        for letter in sorted(set(datasets) - declared):
            diagnostics.add(
                "D012",
                f"[{letter}] declares no 'group_column' but "
                f"{', '.join(f'[{x}]' for x in sorted(declared))} do",
                project.locate(letter, ("label_column",)),
            )


@rule
def justification_covers_requirements(project: Project, diagnostics: Diagnostics) -> None:
    ml = project.ml_requirements
    report = project.get("M", DataJustification)
    if ml is None or report is None:
        return
    discussed = {req_id for argument in report.arguments for req_id in argument.requirements}
    for req in ml.requirements:
        if req.data_related and req.id not in discussed:
            diagnostics.add(
                "D011",
                f"the justification report does not discuss {req.id!r}",
                project.locate("M", ("arguments",), key=True),
            )


def _manifest_location(project: Project) -> Location:
    source = project.manifest_source
    return source.locate(()) if source is not None else Location(MANIFEST_FILE)


@rule
@reads_data
def output_tables_match_their_hashes(project: Project, diagnostics: Diagnostics) -> None:
    """A detector's object tables and the predictions files of [V] have the content their
    declared ``sha256`` says (D005), whether plaintext or sealed (the sealed header carries
    the plaintext hash); a declared file that is in neither form is missing (D003)."""
    root = project.root
    tables: list[tuple[str, tuple[str | int, ...], str, str | None, str]] = []
    for letter, dataset in project.datasets().items():
        if dataset.objects is not None:
            objects = dataset.objects
            tables.append((letter, ("objects",), objects.location, objects.sha256, letter))
    model = project.get("V", ModelReference)
    for letter, spec in model.predictions.items() if model is not None else []:
        tables.append(("V", ("predictions", letter), spec.location, spec.sha256, letter))
    for artefact, path, location, declared, letter in tables:
        if path_problem(root, location) is not None:
            continue
        target = root / location
        if probe(target) == "file":
            actual: str | None = project.content_hash(target)
        else:
            try:
                actual = read_header(root / (location + ".sealed")).plaintext_sha256
            except (OSError, SealError):
                actual = None
        if actual is None:
            sealed = project.datasets().get(letter)
            if sealed is not None and sealed.sealed is not None:
                continue  # sealed data: D014 says so, or the verifier imports predictions
            diagnostics.add(
                "D003",
                f"{location!r} does not exist (nor its sealed copy)",
                project.locate(artefact, (*path, "location")),
            )
            continue
        if declared is not None and declared != actual:
            diagnostics.add(
                "D005",
                f"{location!r} has sha256 {actual[:12]}..., declared {declared[:12]}...",
                project.locate(artefact, (*path, "sha256")),
                hint=f"after review, set 'sha256: {actual}'",
            )
