"""Stage 3 on datasets read in chunks: the data rules of [L] and the independence of two
datasets, in memory bounded by the chunk, with the records of a whole read.

A dataset is read once, in chunks of ``chunk_rows`` rows (sealed data decrypted and
authenticated chunk by chunk), when every stage-3 check on it can be judged that way:

- the counting rules (``within_odd``, ``schema_conformance``, ``min_samples_per_cell``,
  ``class_balance``, ``slice_balance``): each chunk is counted and the counts added
  (:data:`amlas.checks._data.CHUNKED_RULES`; the whole read judges its one count);
- ``label_error_rate``: each chunk gives the labels of the audited samples it holds;
- ``duplicates`` without a near-duplicate search, and the independence of two datasets
  without one: shared ids and groups, and samples of equal content, through hash
  partitions spilled to disk (:mod:`amlas.checks._partitions`; encrypted for sealed
  data), compared exactly partition by partition.

The samples digest (``samples:X``) is hashed line by line as the chunks come, the file's
SHA-256 before they are read (a sealed file's is its header's, checked once every chunk
has been authenticated), and the sample count and ids repeated anywhere (D020, D022,
D023) are checked over the whole, as stages 4 and 5 check them.

A near-duplicate search (a ``duplicates`` rule or independence with a distance), a rule
of a plug-in, a detector's objects, inputs that are not tabular, or a format read whole
make the dataset read whole, as before (:func:`stage3_reason` says why).
"""

from __future__ import annotations

import binascii
import hashlib
import math
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amlas.adapters import ChunkTypeError, DatasetError, ReaderOptions, Table, chunk_reader
from amlas.checks import CheckOutcome, content_error
from amlas.checks import data_rules as rules_module
from amlas.checks._data import (
    CHUNKED_RULES,
    DuplicatesFound,
    NotChunkable,
    _Audit,
    _audit_of,
    _label_judge,
    _label_merge,
    _label_tally,
    duplicates_judge,
    duplicates_resolved,
)
from amlas.checks._datasets import Dataset, bind_dataset
from amlas.checks._independence import IndependenceFound, _not_comparable, independence_outcome
from amlas.checks._metrics import MAX_LISTED_IDS
from amlas.checks._partitions import (
    Spill,
    cross_exact_spilled,
    earlier_exact_spilled,
    row_hashes,
    shared_values,
)
from amlas.checks._spill import PARTITIONS
from amlas.evidence import chunked_sealed
from amlas.hashing import sha256_file
from amlas.project import count_problems, repeat_problem
from amlas.project.artefacts.data import Duplicates
from amlas.verify._context import RunContext
from amlas.verify._engine import file_stamp
from amlas.verify._planned import PlannedCheck

__all__ = ["Stage3Data", "close_stage3", "stage3_independence", "stage3_reason", "stage3_rule"]

_COUNTED = {*CHUNKED_RULES, "label_error_rate", "duplicates"}
"""The built-in rules judged over chunks."""


@dataclass
class Stage3Data:
    """What a chunked read of one dataset gave stage 3: an outcome per planned data rule,
    the dataset bound to no rows (its names and declarations, for the outcomes), its
    SHA-256, samples digest and size, and its spilled ids, groups and content for the
    independence checks."""

    sha256: str
    digest: str
    samples: int
    head: Dataset
    outcomes: dict[str, CheckOutcome] = field(default_factory=dict)
    ids: Spill | None = None
    groups: Spill | None = None
    content: Spill | None = None

    def close(self) -> None:
        for spill in (self.ids, self.groups, self.content):
            if spill is not None:
                spill.close()


def _stage3_checks(context: RunContext, letter: str | None = None) -> list[PlannedCheck]:
    return [
        p
        for p in context.plan
        if p.kind in ("data_rule", "independence")
        and p.runs_in == "amlas run"
        and p.reason is None
        and (letter is None or letter in p.datasets)
    ]


def _features(context: RunContext, letter: str) -> list[str]:
    """The model input columns of ``letter``, as :func:`bind_dataset` names them."""
    document = context.project.datasets()[letter]
    component = context.project.component
    if document.feature_columns:
        return list(document.feature_columns)
    if component is not None and component.inputs.kind == "tabular":
        return component.feature_names()
    return []


def _own_reason(context: RunContext, letter: str) -> str | None:
    """Why ``letter`` must be read whole for stage 3, leaving its partners aside."""
    project = context.project
    document = project.datasets()[letter]
    if chunk_reader(document.format) is None:
        return f"its format {document.format!r} is read whole"
    if document.objects is not None:
        return "a detector's objects are counted image by image over the whole set"
    component = project.component
    if component is None or component.inputs.kind != "tabular":
        return "its inputs are not tabular"
    if document.sealed is not None and not chunked_sealed(project, letter):
        return "it was sealed whole (format version 1): `amlas seal` it again"
    data = project.data_requirements
    checks = _stage3_checks(context, letter)
    if data is None or not checks:
        return "no stage-3 check reads it"
    for check in checks:
        if check.kind == "independence":
            if data.independence.near_duplicate_distance > 0:
                return f"{check.label}: the near-duplicate search reads both sets whole"
            continue
        requirement = next(r for r in data.requirements if r.id == check.subject)
        rule = requirement.rule
        assert rule is not None
        builtin = getattr(rules_module, rule.check.upper(), None)
        if rule.check not in _COUNTED or rules_module.get_data_rule(rule.check) is not builtin:
            return f"{check.label}: the rule {rule.check!r} is judged on the whole set"
        searches = isinstance(rule, Duplicates) and rule.near_duplicate_distance > 0
        if searches and (getattr(rule, "features", None) or _features(context, letter)):
            return f"{check.label}: the near-duplicate search reads the whole set"
    return None


def stage3_reason(context: RunContext, letter: str) -> str | None:
    """Why ``letter`` must be read whole for stage 3 in this run, or None when it is
    read in chunks: its own checks allow it, and so do those of every dataset its
    independence is checked against (a pair is compared in chunks or whole)."""
    reasons: dict[str, str | None] = context.stage3_reasons
    if not reasons:
        letters = sorted({x for p in _stage3_checks(context) for x in p.datasets})
        reasons.update({x: _own_reason(context, x) for x in letters})
        changed = True
        while changed:
            changed = False
            for p in _stage3_checks(context):
                if p.kind != "independence":
                    continue
                a, b = p.datasets
                for one, other in ((a, b), (b, a)):
                    if reasons[one] is None and reasons[other] is not None:
                        reasons[one] = f"{p.label}: [{other}] is read whole"
                        changed = True
    return reasons.get(letter, "no stage-3 check reads it")


def _data(context: RunContext, letter: str) -> Stage3Data | None:
    """The chunked read of ``letter`` for stage 3, made on first use; None when it is
    read whole (with the run's warning, as stages 4 and 5 give it)."""
    if letter not in context.stage3:
        reason = stage3_reason(context, letter)
        retried = False
        if reason is None:
            try:
                context.stage3[letter] = _read(context, letter)
            except (ChunkTypeError, NotChunkable) as exc:  # nothing recorded yet
                reason, retried = str(exc), True
        if reason is not None:
            context.stage3[letter] = None
            document = context.project.datasets()[letter]
            if retried:
                context.report.warnings.append(f"[{letter}] is read whole: {reason}")
            elif document.samples is not None and document.samples > context.chunk_rows:
                context.report.warnings.append(
                    f"[{letter}] ({document.samples} samples) is read whole for stage 3, not "
                    f"in chunks of {context.chunk_rows}: {reason}"
                )
    found: Stage3Data | None = context.stage3[letter]
    return found


def stage3_rule(context: RunContext, planned: PlannedCheck) -> CheckOutcome | None:
    """The outcome of data rule ``planned`` from its dataset read in chunks, or None when
    that dataset is read whole."""
    (letter,) = planned.datasets
    found = _data(context, letter)
    return None if found is None else found.outcomes[planned.key]


def stage3_independence(
    context: RunContext, planned: PlannedCheck
) -> tuple[CheckOutcome, str, str] | None:
    """The independence outcome of ``planned`` and the two samples digests, from its
    datasets read in chunks, or None when they are read whole."""
    a, b = planned.datasets
    first, second = _data(context, a), _data(context, b)
    if first is None or second is None:
        return None
    data = context.project.data_requirements
    assert data is not None
    ids = groups = exact = None
    if first.ids is not None and second.ids is not None:
        ids = shared_values(first.ids, second.ids, MAX_LISTED_IDS)
    if first.groups is not None and second.groups is not None:
        groups = shared_values(first.groups, second.groups, MAX_LISTED_IDS)
    if _not_comparable(first.head, second.head) is None:
        assert first.content is not None
        assert second.content is not None
        cross = cross_exact_spilled(first.content, second.content, MAX_LISTED_IDS)
        exact = (cross.pairs, cross.samples_a, cross.samples_b, cross.first)

    def near(features: list[str], distance: float, resolved: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("a near-duplicate search reads both datasets whole")

    found = IndependenceFound(ids, exact, groups)
    outcome = independence_outcome(first.head, second.head, data.independence, found, near)
    return outcome, first.digest, second.digest


def close_stage3(context: RunContext) -> None:
    """Remove every spilled partition of the run."""
    for found in context.stage3.values():
        if found is not None:
            found.close()


def _partitions(context: RunContext) -> int:
    """Partitions per spill: enough that one holds about a quarter of a chunk of the
    largest dataset declared (at least :data:`PARTITIONS`), so that comparing a
    partition needs less memory than reading a chunk, whatever the data's size."""
    declared = [d.samples or 0 for d in context.project.datasets().values()]
    return max(PARTITIONS, 4 * math.ceil(max(declared, default=0) / context.chunk_rows))


def _empty(table: Table) -> Table:
    return Table(
        {name: values[:0] for name, values in table.columns.items()},
        table.sha256,
        table.source,
        {name: values[:0] for name, values in table.arrays.items()},
    )


def _digest_lines(ds: Dataset) -> bytes:
    """The lines of :attr:`Dataset.samples_digest` for the rows of ``ds`` (a chunk)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(ds)
    if not n:
        return b""
    hexes = binascii.hexlify(ds.table.sample_digests(ds.features))
    inputs = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(64), n, [None, pa.py_buffer(hexes)]
    ).cast(pa.large_string())
    text = pa.large_string()
    ended = pc.binary_join_element_wise(
        ds.arrow_of(ds.labels), pa.scalar("\n", text), pa.scalar("", text)
    )
    lines = pc.binary_join_element_wise(inputs, ended, pa.scalar(":", text))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    first, last = int(offsets[lines.offset]), int(offsets[lines.offset + n])
    return bytes(memoryview(lines.buffers()[2])[first:last])


def _read(context: RunContext, letter: str) -> Stage3Data:
    """Read ``letter`` in chunks and judge every stage-3 data rule on it; spill what its
    independence checks compare (see the module docs)."""
    project = context.project
    document = project.datasets()[letter]
    data = project.data_requirements
    assert data is not None
    checks = _stage3_checks(context, letter)
    paired = any(p.kind == "independence" for p in checks)
    rules: dict[str, tuple[PlannedCheck, Any, dict[str, Any]]] = {}
    for p in checks:
        if p.kind == "data_rule":
            requirement = next(r for r in data.requirements if r.id == p.subject)
            assert requirement.rule is not None
            parameters = requirement.rule.model_dump(mode="json", by_alias=True)
            rules[p.key] = (p, requirement.rule, parameters)
    audits: dict[str, _Audit | CheckOutcome] = {
        key: _audit_of(project, p.subject, rule, letter, document.id_column, parameters)
        for key, (p, rule, parameters) in rules.items()
        if rule.check == "label_error_rate"
    }
    partitions = _partitions(context)
    secret = document.sealed is not None
    # the spills outlive the read (the independence checks compare them): close_stage3
    # removes them at the end of the run, and this function when it fails
    spills = _Spills(
        ids=Spill(partitions, secret=secret) if document.id_column else None,
        groups=Spill(partitions, secret=secret) if document.group_column and paired else None,
    )
    try:
        want_content = paired or any(r.check == "duplicates" for _, r, _ in rules.values())
        head, samples, sha256, digest, tallies = _chunks(
            context, letter, rules, audits, spills, want_content, partitions
        )
        result = Stage3Data(sha256, digest, samples, head, {}, spills.ids, spills.groups)
        result.content = spills.content
        for key, (p, rule, parameters) in rules.items():
            result.outcomes[key] = _judge(
                context, p, rule, parameters, result, tallies.get(key), audits.get(key)
            )
    except BaseException:
        spills.close()
        raise
    return result


@dataclass
class _Spills:
    ids: Spill | None = None
    groups: Spill | None = None
    content: Spill | None = None

    def close(self) -> None:
        for spill in (self.ids, self.groups, self.content):
            if spill is not None:
                spill.close()


def _chunks(
    context: RunContext,
    letter: str,
    rules: dict[str, tuple[PlannedCheck, Any, dict[str, Any]]],
    audits: dict[str, _Audit | CheckOutcome],
    spills: _Spills,
    want_content: bool,
    partitions: int,
) -> tuple[Dataset, int, str, str, dict[str, Any]]:
    """One pass over the chunks of ``letter``: the rules' tallies added, the ids, groups
    and content spilled, the samples digest hashed; then what only the whole shows (the
    count, repeated ids, the sealed content's authentication) checked. Returns the
    dataset bound to no rows, its size, SHA-256 and samples digest, and the tallies."""
    project = context.project
    document = project.datasets()[letter]
    reader = chunk_reader(document.format)
    assert reader is not None
    path = project.root / document.location
    tallies: dict[str, Any] = {}
    digest = hashlib.sha256()
    samples = 0
    head: Dataset | None = None
    with ExitStack() as stack:
        handle = None
        seen = None
        if document.sealed is not None:
            unsealed = context.unseal(letter, chunked=True)
            handle = stack.enter_context(unsealed.reader())
            sha256 = unsealed.header.plaintext_sha256
        else:
            seen = file_stamp(path)
            sha256 = sha256_file(path)
        meta = project.root / document.metadata_table if document.metadata_table else None
        options = ReaderOptions(metadata_table=meta)
        for table in reader.iter_read(
            path, options, rows=context.chunk_rows, sha256=sha256, handle=handle
        ):
            ds = bind_dataset(project, letter, table, offset=samples, whole=False)
            if head is None:
                head = bind_dataset(project, letter, _empty(table), whole=False)
                if want_content and ds.content_columns:
                    spills.content = Spill(partitions, secret=document.sealed is not None)
            for key, (_, rule, _) in rules.items():
                if rule.check in CHUNKED_RULES:
                    part = CHUNKED_RULES[rule.check].tally(project, rule, ds)
                    merge = CHUNKED_RULES[rule.check].merge
                elif rule.check == "label_error_rate":
                    audit = audits[key]
                    if isinstance(audit, CheckOutcome):
                        continue
                    part, merge = _label_tally(audit, ds), _label_merge
                else:
                    continue
                tallies[key] = part if key not in tallies else merge(tallies[key], part)
            if spills.ids is not None:
                spills.ids.add(ds.ids, samples)
            if spills.groups is not None and ds.groups is not None:
                spills.groups.add(ds.groups, samples)
            if spills.content is not None:
                buffer, offsets = ds.content.row_bytes()
                lengths = np.diff(offsets).astype(np.int64)
                raw = np.frombuffer(buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
                spills.content.spill(
                    row_hashes(raw, lengths),
                    rows=np.arange(samples, samples + len(ds), dtype=np.int64),
                    ids=ds.ids,
                    lengths=lengths,
                    data=raw,
                )
            digest.update(_digest_lines(ds))
            samples += len(ds)
        if handle is not None:
            handle.verify()  # every chunk authenticated (a TamperError is R061)
        if seen is not None and file_stamp(path) != seen:
            # hashed before it was read: the records would cite a hash of other content
            raise DatasetError(
                f"{document.location}: the file changed while the run read it; run again"
            )
    problems = count_problems(document, letter, samples)
    repeats = spills.ids.repeats() if spills.ids is not None and not problems else []
    found = [r for r in repeats if r.value.strip()]
    if found:
        problems.append(
            repeat_problem(
                document,
                letter,
                [r.value for r in found],
                [r.count for r in found],
                reveal=document.sealed is None,
            )
        )
    if problems:
        raise content_error(project, letter, problems)
    if repeats and audits:
        raise NotChunkable("the label audit is matched to ids that repeat")
    assert head is not None
    return head, samples, sha256, digest.hexdigest(), tallies


def _judge(
    context: RunContext,
    planned: PlannedCheck,
    rule: Any,
    parameters: dict[str, Any],
    data: Stage3Data,
    tally: Any,
    audit: _Audit | CheckOutcome | None,
) -> CheckOutcome:
    """The outcome of one data rule from the whole dataset's tally, as
    :func:`~amlas.checks.run_data_rule` gives it from the whole dataset."""
    project = context.project
    letter, subject = data.head.letter, planned.subject
    if data.samples == 0:  # the whole read refuses an empty dataset first (D023)
        name = f"data.{rule.check}"
        return CheckOutcome(
            subject, name, letter, "inconclusive",
            f"{subject} on [{letter}]: the dataset is empty; nothing can be claimed", parameters,
        )  # fmt: skip
    if rule.check in CHUNKED_RULES:
        outcome: CheckOutcome = CHUNKED_RULES[rule.check].judge(
            project, subject, rule, letter, tally, parameters
        )
        return outcome
    if rule.check == "label_error_rate":
        assert audit is not None
        if isinstance(audit, CheckOutcome):
            return audit
        return _label_judge(subject, rule, letter, audit, [], tally, parameters)
    head = data.head
    features = rule.features or head.features
    resolved = duplicates_resolved(head.name, head.content_columns)
    if rule.near_duplicate_distance <= 0:
        resolved["near_duplicates"] = "off (near_duplicate_distance: 0)"
    else:  # stage3_reason: a search with features reads the dataset whole
        resolved["near_duplicates"] = "not searched: no numeric features to compare"
    exact = 0
    examples: list[dict[str, str]] = []
    if head.content_columns:
        assert data.content is not None
        earlier = earlier_exact_spilled(data.content, MAX_LISTED_IDS)
        exact = earlier.count
        examples = [
            {"id": row_id, "duplicates": partner, "kind": "exact"}
            for _, row_id, partner in earlier.first
        ]
    found = DuplicatesFound(exact=exact, near=0, unchecked=0, examples=examples)
    return duplicates_judge(
        subject, rule, head, data.samples, features, resolved, found, parameters
    )
