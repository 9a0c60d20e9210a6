"""Stage 3 over a dataset given in chunks: the data rules of [L] and what the independence
of two datasets compares, in memory bounded by the chunk, with the outcomes of a whole
read.

A :class:`ChunkedDataset` is given the chunks of one dataset in file order, each bound
to the dataset artefact (:func:`~amlas.checks.bind_dataset` with its offset):

- the counting rules (:data:`CHUNKED_DATA_RULES` less the two below) count each chunk and
  add the counts (:data:`._data.CHUNKED_RULES`: the whole read judges its one count);
- ``label_error_rate`` takes from each chunk the labels of the audited samples it holds;
- ``duplicates`` and :func:`chunked_independence` compare ids, groups and content
  through hash partitions spilled to disk (:mod:`._partitions`; encrypted for sealed
  data), partition by partition, exactly; their near-duplicate searches spill the
  features and search ranges of one feature's cells with their neighbours
  (:mod:`._near_partitions`), with the whole set's scale, exactly;
- the samples digest is hashed line by line, as :attr:`Dataset.samples_digest` hashes it.
"""

from __future__ import annotations

import binascii
import hashlib
from typing import Any

import numpy as np

from amlas.adapters import Table
from amlas.checks._data import (
    CHUNKED_RULES,
    CheckOutcome,
    DuplicatesFound,
    NotChunkable,
    _Audit,
    _audit_of,
    _label_judge,
    _label_merge,
    _label_tally,
    duplicates_judge,
    duplicates_resolved,
    near_resolved,
)
from amlas.checks._datasets import Dataset, bind_dataset
from amlas.checks._duplicates import radius_of
from amlas.checks._independence import (
    IndependenceFound,
    _not_comparable,
    independence_outcome,
    near_finding,
)
from amlas.checks._metrics import MAX_LISTED_IDS
from amlas.checks._near_partitions import (
    NearRows,
    RowBits,
    cross_near_spilled,
    earlier_near_spilled,
)
from amlas.checks._partitions import (
    CrossExact,
    Spill,
    cross_exact_spilled,
    earlier_exact_spilled,
    row_hashes,
    shared_values,
)
from amlas.project import Project
from amlas.project.artefacts.data import Independence

__all__ = ["CHUNKED_DATA_RULES", "ChunkedDataset", "NotChunkable", "chunked_independence"]

CHUNKED_DATA_RULES = frozenset({*CHUNKED_RULES, "label_error_rate", "duplicates"})
"""The built-in data rules judged over chunks."""


def _empty(table: Table) -> Table:
    return Table(
        {name: values[:0] for name, values in table.columns.items()},
        table.sha256,
        table.source,
        {name: values[:0] for name, values in table.arrays.items()},
    )


def _digest_lines(ds: Dataset) -> bytes:
    """The lines :attr:`Dataset.samples_digest` hashes, for the rows of ``ds``."""
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


class ChunkedDataset:
    """One dataset's stage 3, given in chunks (see the module docs). ``rules`` maps each
    planned key to the [L] item's ID, its rule (one of :data:`CHUNKED_DATA_RULES`) and
    the rule as written; ``paired`` says whether an independence check compares it;
    ``near`` names the features a near-duplicate search on it compares (none: no
    search), each range of which holds about ``range_rows`` rows. Use as a context
    manager, or :meth:`close`: the spilled partitions are removed then."""

    def __init__(
        self,
        project: Project,
        letter: str,
        rules: dict[str, tuple[str, Any, dict[str, Any]]],
        *,
        paired: bool,
        partitions: int,
        secret: bool,
        near: list[str] | None = None,
        range_rows: int = 1 << 19,
    ) -> None:
        self.project = project
        self.letter = letter
        self.rules = rules
        self.outcomes: dict[str, CheckOutcome] = {}
        self.samples = 0
        self.head: Dataset | None = None
        """The dataset bound to none of its rows: its names, declarations and columns."""
        document = project.datasets()[letter]
        self._partitions = partitions
        self._secret = secret
        self._want_content = paired or any(r.check == "duplicates" for _, r, _ in rules.values())
        self._tallies: dict[str, Any] = {}
        self._digest = hashlib.sha256()
        self._audits: dict[str, _Audit | CheckOutcome] = {
            key: _audit_of(project, subject, rule, letter, document.id_column, parameters)
            for key, (subject, rule, parameters) in rules.items()
            if rule.check == "label_error_rate"
        }
        self.ids = Spill(partitions, secret=secret) if document.id_column else None
        self.groups = Spill(partitions, secret=secret) if document.group_column and paired else None
        self.content: Spill | None = None
        self._near_wanted = list(near or [])
        self.near: NearRows | None = None
        """The features kept for the near searches: those wanted that the data holds."""
        self.range_rows = range_rows

    def __enter__(self) -> ChunkedDataset:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for spill in (self.ids, self.groups, self.content, self.near):
            if spill is not None:
                spill.close()

    @property
    def digest(self) -> str:
        """The samples digest of the chunks given so far."""
        return self._digest.hexdigest()

    def add(self, ds: Dataset) -> None:
        """The next chunk (bound with ``offset`` the samples before it)."""
        if self.head is None:
            self.head = bind_dataset(self.project, self.letter, _empty(ds.table), whole=False)
            if self._want_content and ds.content_columns:
                self.content = Spill(self._partitions, secret=self._secret)
        for key, (_, rule, _) in self.rules.items():
            if rule.check in CHUNKED_RULES:
                part = CHUNKED_RULES[rule.check].tally(self.project, rule, ds)
                merge = CHUNKED_RULES[rule.check].merge
            elif rule.check == "label_error_rate":
                audit = self._audits[key]
                if isinstance(audit, CheckOutcome):
                    continue
                part, merge = _label_tally(audit, ds), _label_merge
            else:
                continue
            held = self._tallies.get(key)
            self._tallies[key] = part if held is None else merge(held, part)
        first = self.samples
        if self.ids is not None:
            self.ids.add(ds.ids, first)
        if self.groups is not None and ds.groups is not None:
            self.groups.add(ds.groups, first)
        if self.content is not None:
            buffer, offsets = ds.content.row_bytes()
            lengths = np.diff(offsets).astype(np.int64)
            raw = np.frombuffer(buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
            self.content.spill(
                row_hashes(raw, lengths),
                rows=np.arange(first, first + len(ds), dtype=np.int64),
                ids=ds.ids,
                lengths=lengths,
                data=raw,
            )
        if self.near is None and not first:
            # a search on a feature the data lacks is not run (independence) or fails as
            # the whole read fails (the duplicates rule falls back to it)
            present = [c for c in self._near_wanted if c in ds.table.columns]
            self.near = NearRows(present, secret=self._secret) if present else None
        if self.near is not None:
            self.near.add(ds.table.numeric(self.near.columns), ds.ids)
        self._digest.update(_digest_lines(ds))
        self.samples += len(ds)

    def judge(self, repeated_ids: bool) -> None:
        """Judge every rule once the whole dataset has been given (the caller has checked
        the count and the repeated ids: ``repeated_ids`` says whether any id repeats)."""
        if repeated_ids and self._audits:
            raise NotChunkable("the label audit is matched to ids that repeat")
        for key, (subject, rule, parameters) in self.rules.items():
            self.outcomes[key] = self._judge(key, subject, rule, parameters)

    def _judge(self, key: str, subject: str, rule: Any, parameters: dict[str, Any]) -> CheckOutcome:
        head = self.head
        assert head is not None  # the caller refuses an empty dataset (D023) first
        tally = self._tallies.get(key)
        if rule.check in CHUNKED_RULES:
            outcome: CheckOutcome = CHUNKED_RULES[rule.check].judge(
                self.project, subject, rule, self.letter, tally, parameters
            )
            return outcome
        if rule.check == "label_error_rate":
            audit = self._audits[key]
            if isinstance(audit, CheckOutcome):
                return audit
            assert tally is not None
            return _label_judge(subject, rule, self.letter, audit, [], tally, parameters)
        features = rule.features or head.features
        distance = rule.near_duplicate_distance
        resolved = duplicates_resolved(head.name, head.content_columns)
        searched = distance > 0 and bool(features)
        if distance <= 0:
            resolved["near_duplicates"] = "off (near_duplicate_distance: 0)"
        elif not features:
            resolved["near_duplicates"] = "not searched: no numeric features to compare"
        elif self.near is None or not set(features) <= set(self.near.columns):
            raise NotChunkable("the near-duplicate search's features were not kept")
        exact = 0
        marked = RowBits(self.samples) if searched and head.content_columns else None
        listed: list[tuple[int, dict[str, str]]] = []
        if head.content_columns:
            assert self.content is not None
            earlier = earlier_exact_spilled(
                self.content, MAX_LISTED_IDS, marks=marked.set if marked is not None else None
            )
            exact = earlier.count
            listed = [
                (row, {"id": row_id, "duplicates": partner, "kind": "exact"})
                for row, row_id, partner in earlier.first
            ]
        near = unchecked = 0
        if searched:
            assert self.near is not None
            found_near = earlier_near_spilled(
                self.near,
                features,
                radius_of(distance, len(features)),
                exact=marked,
                limit=MAX_LISTED_IDS,
                rows=self.range_rows,
            )
            near, unchecked = found_near.count, found_near.unchecked
            listed += [
                (row, {"id": row_id, "duplicates": partner, "kind": "near"})
                for row, row_id, partner in found_near.first
            ]
            near_resolved(resolved, distance, features, found_near.skipped)
        listed.sort(key=lambda item: item[0])
        examples = [example for _, example in listed[:MAX_LISTED_IDS]]
        found = DuplicatesFound(exact=exact, near=near, unchecked=unchecked, examples=examples)
        return duplicates_judge(
            subject, rule, head, self.samples, features, resolved, found, parameters
        )


def chunked_independence(
    first: ChunkedDataset, second: ChunkedDataset, settings: Independence
) -> CheckOutcome:
    """:func:`~amlas.checks.check_independence` of two datasets given in chunks."""
    a, b = first.head, second.head
    assert a is not None
    assert b is not None
    ids = groups = exact = None
    cross: CrossExact | None = None
    if first.ids is not None and second.ids is not None:
        ids = shared_values(first.ids, second.ids, MAX_LISTED_IDS)
    if first.groups is not None and second.groups is not None:
        groups = shared_values(first.groups, second.groups, MAX_LISTED_IDS)
    if _not_comparable(a, b) is None:
        assert first.content is not None
        assert second.content is not None
        cross = cross_exact_spilled(first.content, second.content, MAX_LISTED_IDS)
        exact = (cross.pairs, cross.samples_a, cross.samples_b, cross.first)

    def near(features: list[str], distance: float, resolved: dict[str, Any]) -> dict[str, Any]:
        kept = [x.near.columns for x in (first, second) if x.near is not None]
        if len(kept) < 2 or not all(set(features) <= set(columns) for columns in kept):
            raise NotChunkable("the near-duplicate search's features were not kept")
        assert first.near is not None
        assert second.near is not None
        found = cross_near_spilled(
            first.near,
            second.near,
            features,
            radius_of(distance, len(features)),
            codes=cross.groups if cross is not None else None,
            limit=MAX_LISTED_IDS,
            rows=min(first.range_rows, second.range_rows),
        )
        samples = (found.samples_a, found.samples_b)
        return near_finding(
            a, b, features, distance, resolved, found.pairs, samples, found.first, found.skipped
        )

    return independence_outcome(a, b, settings, IndependenceFound(ids, exact, groups), near)
