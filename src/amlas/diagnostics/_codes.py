"""The registry of diagnostic codes.

Codes are stable: once released, a code keeps its meaning (retire it, never reuse it).
Families: ``F`` files and YAML, ``S`` schema, ``X`` identifiers and traceability,
``Q`` requirement quality, ``D`` data and datasets, ``M`` model, verification and deployment,
``G`` the safety case (pattern instantiation, ``amlas case``), ``A`` approvals (sign-offs,
the approvals the gate requires), ``B`` the assessor's bundle, ``R`` problems found while a
command runs (``run``, ``case``, ``impact``, ``monitor``, ``evidence``): the data, the model or
a setting turned out unusable. ``R`` codes are raised as :class:`amlas.errors.ProblemError`
and printed like the others; ``tests/cli/test_bad_runs.py`` has a bad run for each.
``docs/diagnostics.md`` is generated from this table (``amlas diagnostics --markdown``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CODES", "Code"]


@dataclass(frozen=True)
class Code:
    """A registered diagnostic code with its default severity and documentation."""

    code: str
    severity: str
    title: str
    explanation: str
    rule: str = ""  # the AMLAS rule (../shared/AMLAS.md §4) it enforces, when there is one


_TABLE: tuple[Code, ...] = (
    # -- F: files and YAML -------------------------------------------------------------------
    Code(
        "F001",
        "error",
        "required artefact missing",
        "An artefact that stages 1-3 need ([A] [B] [C] [D] [E] [H] [L] [N] [O] [P]) has no "
        "file. `amlas init` scaffolds every artefact; the manifest's `artefacts:` map may "
        "point elsewhere.",
    ),
    Code(
        "F002",
        "warning",
        "artefact not written yet",
        "A later-stage artefact ([J] [M] [Q] [U] [V] [AA] [DD] [EE]) has no file. Expected "
        "while the project is young; the safety case will show the stage as undeveloped.",
    ),
    Code(
        "F003",
        "error",
        "file cannot be read",
        "The file exists but cannot be read as UTF-8 text (a directory, permissions, binary "
        "content or too large).",
    ),
    Code("F004", "error", "YAML syntax error", "The file is not well-formed YAML."),
    Code(
        "F005",
        "error",
        "duplicate key",
        "A mapping repeats a key. YAML loaders silently keep the last one; `amlas` refuses "
        "to guess which one you meant.",
    ),
    Code(
        "F006",
        "error",
        "unsupported YAML feature",
        "Tags other than the YAML core schema (e.g. `!!python/object`), non-string keys, "
        "or anchors/aliases nested beyond the expansion limit. Artefacts are data, never code.",
    ),
    Code(
        "F007",
        "error",
        "not an artefact document",
        "The file is empty, holds several YAML documents, or its top level is not a mapping.",
    ),
    Code(
        "F008",
        "error",
        "artefact header mismatch",
        "The document's `artefact:` letter is not the artefact the manifest loads from this "
        "file (e.g. an [L] file listed as [H]).",
    ),
    Code(
        "F009",
        "error",
        "path escapes the project",
        "A path in the manifest or an artefact points outside the project directory. "
        "Projects must be self-contained so hashes and reviews cover everything.",
    ),
    Code(
        "F010",
        "error",
        "output would replace the project",
        "An output (`amlas case --out`, `amlas report -o`/`--pdf`) is the project folder, "
        "contains it, or is, contains or lies inside a file the project uses (amlas.yaml, "
        "an artefact, data, sealed data, an access log, the model, the evidence store). "
        "Nothing is written (exit 2); choose an output of its own.",
    ),
    Code(
        "F011",
        "error",
        "output holds files amlas did not write",
        "An output folder is replaced as a whole, so amlas replaces only a new or empty "
        "folder, or one whose `.amlas-output` marker lists every file in it as written by "
        "amlas; an existing output file is replaced only when amlas wrote it. The message "
        "names the other files; nothing is written (exit 2). Move them, or choose another "
        "output.",
    ),
    Code(
        "F012",
        "error",
        "component project not part of its system",
        "`part_of:` in a component project's `amlas.yaml` names the system project holding "
        "it: a directory above this one whose `amlas.yaml` declares `components:` with an "
        "entry whose `path` is this project. Without it [A] [B] [C] cannot be read, so the "
        "component's case cannot be built. A project declaring both `components` and "
        "`part_of` is refused too.",
    ),
    Code(
        "F013",
        "error",
        "component project names a system artefact",
        "A component project reads [A] [B] [C] from its system (`part_of:`); its own "
        "`artefacts:` map cannot move them. Move them in the system's `amlas.yaml`.",
    ),
    Code(
        "F014",
        "warning",
        "system artefact file ignored in a component",
        "A component project holds a file at the place of [A], [B] or [C]; it is ignored, "
        "since the component reads them from its system. Delete it, or move what it adds "
        "into the system's artefact, so that no one edits the wrong copy.",
    ),
    Code(
        "F015",
        "error",
        "setting of a system project that nothing uses",
        "A system project (`components:`) holds only [A] [B] [C] and the list of its ML "
        "components; the case settings, `defaults`, `verifier_key`, `evidence` and the files "
        "of the other artefacts (`artefacts:` entries other than A, B, C) are each "
        "component's own. Written in the system's `amlas.yaml` they would be ignored, so "
        "amlas refuses them: move them into the component's `amlas.yaml`.",
    ),
    Code(
        "F016",
        "warning",
        "component artefact file ignored in a system project",
        "A system project holds only [A] [B] [C]; a file at the place of another artefact "
        "(say `2-requirements/H-ml-safety-requirements.yaml`) in the system directory is "
        "read by nothing. Move it into the ML component's project it belongs to.",
    ),
    # -- S: schema ---------------------------------------------------------------------------
    Code(
        "S001",
        "error",
        "unknown key",
        "The key is not part of this artefact's schema. Unknown keys are rejected rather than "
        "dropped, because a misspelt key silently loses safety content.",
    ),
    Code(
        "S002", "error", "missing required key", "AMLAS requires this content; it has no default."
    ),
    Code(
        "S003",
        "error",
        "wrong type",
        "The value has the wrong type (e.g. a list where a mapping was expected).",
    ),
    Code(
        "S004",
        "error",
        "value not allowed",
        "The value is not one of the allowed choices (an enumeration such as a requirement "
        "kind or a metric name).",
    ),
    Code(
        "S005",
        "error",
        "value violates a constraint",
        "The value is outside its allowed range, too short, or does not match the required "
        "pattern (IDs, `module:function` references, SHA-256 digests).",
    ),
    Code(
        "S006",
        "error",
        "invalid content",
        "A structural rule inside one artefact failed, e.g. an ODD band outside its "
        "dimension's range, overlapping bands, or a numeric range with min >= max.",
    ),
    Code(
        "S007",
        "warning",
        "placeholder text left",
        "Text still holds a `TODO` placeholder from `amlas init`.",
    ),
    Code(
        "S008",
        "error",
        "plug-in name registered twice",
        "Two installed packages register the same name in one `amlas.*` entry-point group "
        "(`amlas plugins` lists them); neither is used until one is uninstalled or renamed.",
    ),
    Code(
        "S009",
        "error",
        "plug-in failed to load",
        "An installed package's entry point in an `amlas.*` group cannot be imported; the "
        "message names the entry point, its package and the error.",
    ),
    # -- X: identifiers and traceability ------------------------------------------------------
    Code(
        "X001",
        "error",
        "duplicate ID",
        "Two items share an ID. IDs form one namespace across the whole project so that "
        "every reference is unambiguous.",
    ),
    Code(
        "X002",
        "error",
        "unknown ID",
        "A reference names an ID that no artefact defines (a dangling trace link).",
    ),
    Code(
        "X003",
        "error",
        "reference to the wrong kind of item",
        "The ID exists but names the wrong kind of item, e.g. an [E] requirement tracing to a "
        "hazard instead of a system safety requirement [A].",
    ),
    Code(
        "X004",
        "error",
        "allocated requirement not traced to [A]",
        "Every safety requirement allocated to the ML component [E] traces to at least one "
        "system safety requirement [A].",
        "R1",
    ),
    Code(
        "X005",
        "error",
        "ML safety requirement not traced to [E]",
        "Every ML safety requirement [H] traces to at least one allocated requirement [E].",
        "R3",
    ),
    Code(
        "X006",
        "error",
        "allocated requirement neither refined nor deferred",
        "Every [E] item is refined by at least one [H] item, or is explicitly deferred "
        "(`deferred: {reason, handled_by}`) to system level or deployment (J2.1).",
        "R3",
    ),
    Code(
        "X007",
        "error",
        "data requirement not traced to [H]",
        "Every data requirement [L] traces to at least one ML safety requirement [H].",
        "R6",
    ),
    Code(
        "X008",
        "error",
        "ML safety requirement not covered by data requirements",
        "Every [H] item is covered by at least one [L] item, or marked "
        "`data_related: false` with a reason (e.g. latency requirements).",
        "R6",
    ),
    Code(
        "X009",
        "warning",
        "hazard not controlled",
        "A hazard in [A] is controlled by no system safety requirement.",
    ),
    Code(
        "X010",
        "info",
        "system safety requirement not allocated to the ML component",
        "No [E] item traces to this [A] requirement. That is fine when the requirement is met "
        "elsewhere in the system; listed so the allocation is a visible decision.",
    ),
    Code(
        "X011",
        "warning",
        "deferred requirement is also refined",
        "An [E] item is marked deferred but [H] items refine it; one of the two is stale.",
    ),
    Code(
        "X012",
        "warning",
        "requirement marked not data-related is covered by data requirements",
        "An [H] item says `data_related: false` but [L] items trace to it; one of the two is "
        "stale.",
    ),
    Code(
        "X015",
        "error",
        "review names an unknown item",
        "A review record [RV] lists under `items` an ID that no artefact defines (or another "
        "review record). The review could not be tied to what it examined.",
    ),
    Code(
        "X016",
        "error",
        "reviewed document missing",
        "A review record [RV] lists under `documents` a path that is no file inside the "
        "project, so its hash cannot be checked.",
    ),
    Code(
        "X017",
        "error",
        "system component without a usable project",
        "A system project's `components:` entry names an ID that is no component of kind "
        "`ml` in [C], repeats another entry's ID or path, or points at a directory that is "
        "not inside the system, holds no `amlas.yaml`, or whose `amlas.yaml` does not say "
        "`part_of:` back to this system, or shares its evidence store with another "
        "component (record keys name no component). The component's argument could not be "
        "built, or would read another's records.",
    ),
    Code(
        "X018",
        "warning",
        "ML component of [C] without a project",
        "[C] lists a component of kind `ml` that the system's `components:` gives no "
        "project: nothing argues it is safe, so the system's top claim stays undeveloped "
        "until it has one.",
    ),
    Code(
        "X019",
        "error",
        "barrier's ML component or rate not usable",
        "A barrier of [C] that names an ML `component` must name a component of kind `ml` "
        "with a project in the system, and `failure_from` an [H] requirement of that "
        "component stated as recall or FNR of a safety-related class of its [D] (its miss "
        "rate is the barrier's failure on demand). A `worsens` entry needs exactly one of "
        "`rate` (declared) and `rate_from` (an [H] requirement of the barrier's component "
        "stated as recall, FNR, FPR or specificity); `failure_from` and `rate_from` need "
        "`component`, and a barrier naming a component needs `failure_from` (a declared "
        "`failure_on_demand` would stand in for results its component has). A project that is "
        "no component of a system cannot use these fields: the rates come from the other "
        "component's own project.",
    ),
    Code(
        "X013",
        "error",
        "ML safety requirement refines itself or a cycle",
        "An [H] item's `refines` names the item itself, or a chain of `refines` leads back "
        "to where it started. Refinement is a hierarchy: every chain ends at a requirement "
        "that refines no other.",
    ),
    Code(
        "X014",
        "warning",
        "scenario names an ML safety requirement outside the system requirements it exercises",
        "An operational scenario [EE] lists an [H] item in `ml_requirements`, but none of the "
        "system safety requirements [A] the scenario exercises is reached from that item "
        "through [E] (its own or inherited `traces_to`): the scenario's runs report on other "
        "requirements, so they say nothing about this one.",
    ),
    # -- Q: requirement quality ----------------------------------------------------------------
    Code(
        "Q001",
        "error",
        "threshold outside the metric's range",
        "The threshold can never be met or is meaningless for the metric (e.g. recall >= 1.2).",
        "R4",
    ),
    Code(
        "Q002",
        "error",
        "confidence level outside (0, 1)",
        "A confidence level is a probability strictly between 0 and 1 (e.g. 0.95).",
        "R4",
    ),
    Code(
        "Q003",
        "error",
        "comparison contradicts the metric's direction",
        "The stated comparison runs against the metric (e.g. `at_most` for recall, where "
        "higher is better). The verdict would reward a worse model.",
        "R4",
    ),
    Code(
        "Q004",
        "error",
        "metric class missing or unknown",
        "A per-class metric (recall, precision, ...) needs `class:` naming one of the classes "
        "in the ML component description [D].",
    ),
    Code(
        "Q005",
        "error",
        "unknown ODD slice value",
        "A slice names a band or category that its ODD dimension in [B] does not declare.",
    ),
    Code(
        "Q006",
        "error",
        "robustness requirement without perturbation, property or faults",
        "A robustness requirement states what the model must be robust to: a `perturbation` "
        "(test leg), a formal `property` (formal leg) or injected hardware `faults`.",
        "R4",
    ),
    Code(
        "Q007",
        "warning",
        "perturbation on a non-robustness requirement",
        "Only robustness requirements are evaluated under perturbations; the `perturbation`, "
        "`property` or `faults` here is ignored.",
    ),
    Code(
        "Q008",
        "warning",
        "threshold trivially satisfied",
        "The threshold sits at the bound of the metric's range (e.g. recall >= 0), so every "
        "model meets it.",
    ),
    Code(
        "Q009",
        "warning",
        "allocated requirement mentions ML metrics",
        "Requirements allocated to the ML component [E] are technology-agnostic; metrics "
        "belong in the ML safety requirements [H].",
        "R1",
    ),
    Code(
        "Q010",
        "warning",
        "ML safety requirement not validated",
        "No record in the requirement validation results [J] covers this [H] item.",
        "R5",
    ),
    Code(
        "Q011",
        "error",
        "unknown input feature",
        "A perturbation names a feature that the ML component's input schema [D] does not declare.",
    ),
    Code(
        "Q012",
        "error",
        "metric does not fit the task",
        "The metric is not defined for the ML component's task (e.g. recall for regression).",
    ),
    Code(
        "Q013",
        "error",
        "slice dimension repeated",
        "A dimension appears both in `where` and `per`, or twice in `per`.",
    ),
    # -- D: data and datasets ------------------------------------------------------------------
    Code(
        "D001",
        "error",
        "data requirement category not covered",
        "Data requirements [L] cover relevance, completeness, accuracy and balance, or declare "
        "a justified gap for the missing category.",
        "R6",
    ),
    Code(
        "D002",
        "warning",
        "check does not fit the requirement's category",
        "The machine-checkable rule belongs to another category (e.g. `class_balance` on a "
        "relevance requirement).",
    ),
    Code(
        "D003",
        "error",
        "dataset file missing",
        "The dataset's `location` does not exist in the project.",
    ),
    Code(
        "D004",
        "error",
        "datasets share a source",
        "Two of the development [N], internal test [O] and verification [P] datasets have the "
        "same location or identical content. AMLAS requires three separate sets.",
        "R9",
    ),
    Code(
        "D005",
        "error",
        "dataset content changed",
        "The file's SHA-256 differs from the declared `sha256`: the data changed since the "
        "artefact was written. Review the change and update the hash.",
        "R23",
    ),
    Code(
        "D006",
        "error",
        "dataset column missing",
        "A declared column (label, sample id, group, content or ODD column, or a feature [L] "
        "names for a near-duplicate search) is not in the file's header.",
    ),
    Code(
        "D007",
        "error",
        "ODD dimension has no column",
        "The dataset names an ODD dimension but neither it nor [B] says which column carries "
        "the dimension.",
    ),
    Code(
        "D008",
        "warning",
        "dataset has no sample-id column",
        "Without `id_column`, findings cannot name the offending samples and independence "
        "checks fall back to row content.",
    ),
    Code(
        "D009",
        "warning",
        "justified gap for a covered category",
        "A gap is declared for a data-requirement category that requirements already cover.",
    ),
    Code(
        "D010",
        "error",
        "unknown class in data rule",
        "A data rule names a class the ML component description [D] does not declare.",
    ),
    Code(
        "D011",
        "warning",
        "data justification misses a requirement",
        "The data requirements justification report [M] does not discuss a data-related [H] item.",
        "R8",
    ),
    Code(
        "D012",
        "warning",
        "group column declared for some datasets only",
        "A group column (patient, asset, scene) lets independence checks find units shared "
        "between [N], [O] and [P]; it must be declared for all three to be compared.",
        "R9",
    ),
    Code(
        "D013",
        "warning",
        "plaintext of sealed data present",
        "A dataset is declared sealed, yet its plaintext file is still in the project, where "
        "the development team can read it. Remove it (and from version-control history).",
        "R15",
    ),
    Code(
        "D014",
        "error",
        "sealed data unreadable or inconsistent",
        "The sealed copy of a dataset is missing, is not an amlas sealed file, or seals "
        "content whose hash differs from the dataset's declared sha256.",
        "R15",
    ),
    Code(
        "D015",
        "error",
        "access log damaged",
        "The hash-chained access log of sealed data has a broken link, an edited or deleted "
        "entry, or a line that does not parse: its record of who used [P] cannot be trusted.",
        "R15",
    ),
    Code(
        "D016",
        "warning",
        "verification data over-used",
        "The access log records more uses of the sealed verification data than its declared "
        "limit; repeated evaluation on [P] risks tuning the model to it.",
        "R15",
    ),
    Code(
        "D017",
        "error",
        "sealed data not as the verifier sealed it",
        "The sealed copy of a dataset differs from what the verifier signed when sealing it "
        "(a changed or cut byte), or its seal statement (`<sealed file>.sig`) is missing or "
        "not signed by the project's declared `verifier_key`. Checked without the key.",
        "R15",
    ),
    Code(
        "D018",
        "error",
        "no verifier public key declared",
        "A dataset is sealed but `amlas.yaml` declares no `verifier_key`, so nobody without "
        "the verifier key can check the seal, the access log or the verification evidence. "
        "`amlas keygen` prints the key; `amlas seal` writes it.",
        "R15",
    ),
    Code(
        "D020",
        "error",
        "declared sample count differs",
        "A dataset file holds another number of samples than its artefact's `samples` "
        "declares: rows were added or lost since the declaration was reviewed.",
    ),
    Code(
        "D021",
        "error",
        "label empty or not a class",
        "A sample's label is empty, or is not one of the classes of [D] (classification "
        "tasks): such a row cannot count for or against any requirement. The message names "
        "the value and the file lines (sealed data: the sample numbers, not the values).",
    ),
    Code(
        "D022",
        "error",
        "sample ids empty or repeated",
        "A dataset's `id_column` holds an empty id or an id more than once. Findings name "
        "samples by id and the independence check compares ids across datasets, so ids must "
        "be unique within a dataset.",
        "R9",
    ),
    Code(
        "D023",
        "error",
        "dataset holds no samples",
        "A dataset file has a header and no rows: nothing can be measured on it.",
    ),
    Code(
        "D024",
        "error",
        "ground-truth objects do not fit their dataset",
        "A row of a detector's object table names a sample the dataset does not hold or a "
        "class [D] does not declare, or gives a box with a missing coordinate or a negative "
        "width or height: no detection metric is computed from it.",
    ),
    Code(
        "D025",
        "error",
        "predictions made elsewhere do not fit their dataset",
        "A predictions file of [V] names a sample the dataset does not hold, predicts a "
        "sample twice or not at all, repeats a detection, gives a NaN score, a box of "
        "negative size or a class [D] does not declare.",
    ),
    Code(
        "D026",
        "error",
        "unknown banding in a data rule",
        "A data rule of [L] (`min_samples_per_cell`, `slice_balance`) names in `banding` a "
        "banding its ODD dimension does not declare in `bandings` of [B], a banding of a "
        "categorical dimension, or a banding for a dimension the rule does not count by. "
        "The message names the banding and, where one is close, what was meant.",
    ),
    Code(
        "D027",
        "error",
        "monitored ODD condition names no monitor",
        "A fixed ODD condition of [B] says `assured_by: monitor` but `monitored_by` names no "
        "[DD] erroneous behaviour or [C] barrier that detects leaving it: nothing shows the "
        "condition holds in operation. Name the monitor, or state the condition as an "
        "assumption with its rationale.",
    ),
    # -- M: model, verification and deployment ------------------------------------------------
    Code(
        "M001",
        "error",
        "model decision taken on held-out data",
        "The model development log [U] records a threshold, hyper-parameter or selection "
        "chosen on internal test [O] or verification [P] data: data leakage.",
        "R12",
    ),
    Code(
        "M002",
        "error",
        "model trained on held-out data",
        "The model reference [V] or log [U] lists internal test or verification data among "
        "the data used to create the model.",
        "R12",
    ),
    Code("M003", "error", "model file missing", "The model's `location` does not exist."),
    Code(
        "M004",
        "error",
        "model file changed",
        "The model file's SHA-256 differs from the declared `sha256`.",
        "R23",
    ),
    Code(
        "M005",
        "warning",
        "requirement has no verification activity",
        "The verification log [AA] plans no test or formal activity for this [H] item.",
        "R17",
    ),
    Code(
        "M006",
        "warning",
        "formal activity without property encoding",
        "A formal verification activity must document how the requirement was encoded as a "
        "formal property (Note 36).",
        "R17",
    ),
    Code(
        "M007",
        "warning",
        "verification independence not recorded",
        "The verification log [AA] names no verifier, so independence (G5.2) cannot be argued.",
        "R16",
    ),
    Code(
        "M008",
        "warning",
        "erroneous behaviour without monitor or response",
        "Each entry in the erroneous behaviour log [DD] needs a monitoring mechanism (G6.8) "
        "and an acceptable response (G6.9).",
        "R20",
    ),
    Code(
        "M009",
        "warning",
        "allocated requirement not exercised by a scenario",
        "No operational scenario [EE] exercises the system safety requirement behind an [E] "
        "item, so integration testing cannot show it holds.",
        "R19",
    ),
    Code(
        "M010",
        "error",
        "model classes do not match [D]",
        "The model reference's `class_order` names other classes than the ML component "
        "description [D].",
    ),
    Code(
        "M011",
        "warning",
        "model is not the selected candidate",
        "The model reference [V] names a different candidate from the one the model "
        "development log [U] selected.",
        "R13",
    ),
    Code(
        "M012",
        "warning",
        "no independent verifier",
        "For a high or very high criticality component, at least one verifier in [AA] is "
        "independent of the development team (G5.2; AMLAS Note 31).",
        "R16",
    ),
    Code(
        "M013",
        "error",
        "verification evidence not signed by the declared verifier key",
        "An evidence record that claims verification (stage 5, the verifier role, or sealed "
        "data) has no valid Ed25519 signature by the project's `verifier_key`, a signature "
        "is invalid, or the access-log head it signed is no longer in the log (the log was "
        "cut). The safety case counts such a record as failed.",
        "R16",
    ),
    Code(
        "M014",
        "error",
        "model decision without the data it was chosen on",
        "A hyper-parameter, threshold or the candidate selection in the model development "
        "log [U] does not state `chosen_on`. Nothing then shows that no held-out data "
        "(internal test [O], verification [P]) was used to make it (R12), and `amlas` no "
        "longer assumes development data [N]. An error, like the leakage it hides (M001); "
        "a rule rather than a schema error so that the rest of [U] is still checked.",
        "R12",
    ),
    Code(
        "Q014",
        "warning",
        "justification text missing",
        "AMLAS never fixes what 'sufficient' means: the justification and rationale nodes "
        "(J2.1, J3.1, J6.2, G5.6, G6.5) need recorded text, or the safety case leaves them "
        "undeveloped.",
        "R24",
    ),
    Code(
        "Q015",
        "error",
        "metric without what it is measured under",
        "`robust_accuracy` and `prediction_stability` are measured under a `perturbation`, "
        "`verified_robustness` over a formal `property`, `fault_tolerance_rate` over "
        "injected `faults`; without it the requirement cannot be verified.",
        "R4",
    ),
    Code(
        "Q016",
        "error",
        "unknown banding in a requirement's slice",
        "An [H] requirement's `applies_to.banding` names a banding that its ODD dimension "
        "does not declare in `bandings` of [B], a banding of a categorical dimension, or a "
        "banding for a dimension the slice neither restricts (`where`) nor slices by "
        "(`per`). The message names the banding and, where one is close, what was meant.",
    ),
    Code(
        "Q017",
        "error",
        "stated ASIL differs from ISO 26262's table",
        "A hazard of [A] classified with `scheme: iso26262` states an `asil` other than the "
        "one ISO 26262-3 (Table 4) determines from its severity, exposure and "
        "controllability (QM where any class is 0). Correct the ASIL or the classes, or "
        "leave `asil` out to have it determined.",
    ),
    Code(
        "Q021",
        "warning",
        "requirement verified without data also states a metric",
        "An [H] item with `verified_by` is not judged on data by `amlas run`, whatever "
        "metric it states; the metric, threshold and confidence then only judge counts "
        "imported for it (`amlas evidence import`), and a review measures no metric at all. "
        "Leave out `verified_by` to have `amlas run` judge the metric on [O] and [P], or "
        "leave out the metric. A warning, not an error: nothing is claimed without imported "
        "or reviewed evidence either way, and a metric over imported counts (a frame-time "
        "share measured on the target platform) is a legitimate use.",
        "R4",
    ),
    Code(
        "Q022",
        "warning",
        "operational scenario without an expected outcome",
        "An operational scenario [EE] does not state `expected_outcome`: what the "
        "integrated system should do in it. Without it the scenario's record says which "
        "requirements held, but not what a reviewer should have seen happen (AMLAS "
        "Activity 16).",
        "R19",
    ),
    Code(
        "Q023",
        "warning",
        "test or proof settings on a requirement verified without data",
        "An [H] item with `verified_by` also states a `perturbation`, a formal `property` or "
        "injected `faults`: `amlas run` runs none of them for a requirement it does not "
        "judge on data, so they are ignored.",
    ),
    Code(
        "Q018",
        "error",
        "`across` misplaced",
        "`across` states robustness as performance across the operating domain: the "
        "metric must meet the threshold in every band of the listed ODD dimensions, with "
        "nothing perturbed. It belongs on a `kind: robustness` requirement, instead of "
        "`applies_to.per` (it is the robustness reading of `per`; list every dimension in "
        "`across`) and without a `perturbation`, `property` or `faults` (to judge a "
        "perturbation in every band, use `applies_to.per`).",
        "R4",
    ),
    Code(
        "Q019",
        "error",
        "precondition column unknown",
        "A requirement's `precondition` names a column that a dataset it is judged on ([O], "
        "[P]) does not hold. Checked where the columns are known before the run (plaintext "
        "CSV; a detector's `objects.attributes`); sealed or other data is checked by the run "
        "(R096).",
    ),
    Code(
        "Q020",
        "error",
        "confidence level missing",
        "A performance or robustness requirement states no `confidence`, and amlas.yaml "
        "sets no project default (`defaults: {confidence: 0.95}`): the level its verdict "
        "is decided at is unknown.",
        "R4",
    ),
    Code(
        "Q024",
        "warning",
        "review not pinned",
        "A review record [RV] has reviewed items or documents whose `sha256` is still "
        "`pending`. A review supports a claim only while what it examined is unchanged, "
        "which needs the hashes at the time of the review: `amlas review pin DIR ID` writes "
        "them. Until then the review supports nothing.",
    ),
    # -- G: the safety case (pattern instantiation) -------------------------------------------
    Code(
        "G001",
        "warning",
        "placeholder left unfilled",
        "A pattern node's `{placeholder}` has no value in the project (usually because the "
        "artefact that provides it is missing or empty). The node keeps the placeholder and "
        "stays undeveloped.",
        "R22",
    ),
    Code(
        "G002",
        "warning",
        "multiplicity not expanded",
        "A multiplicity (e.g. one G2.5 per robustness requirement) has no items, so the "
        "argument has no instance of that goal. Add the requirements, or argue the gap.",
        "R22",
    ),
    Code(
        "G003",
        "warning",
        "choice not made",
        "A choice in the pattern (S5.1: test and/or formal verification) has no chosen "
        "branch for an instance: [AA] lists no verification activity for the requirement.",
        "R17",
    ),
    Code(
        "G004",
        "warning",
        "rationale not recorded",
        "A justification node AMLAS requires ('sufficient', 'representative') has no "
        "recorded rationale in its artefact or under `case.rationale` in amlas.yaml, so it "
        "stays undeveloped.",
        "R24",
    ),
    Code(
        "G005",
        "warning",
        "case setting names no node",
        "`case.rationale` or `case.judgements` in amlas.yaml names a node ID (or glob) that "
        "is not in the instantiated safety case: a typo, or a node of another pattern "
        "library.",
        "R22",
    ),
    Code(
        "G006",
        "error",
        "pattern library not well formed",
        "The pattern library `case.library` names (a shipped name or a folder in the "
        "project) cannot be read, or is not well formed: a link to an unknown node, an "
        "unknown vocabulary name, or `supported_by` links that form a cycle. `amlas case` "
        "refuses it; the message names the file, the node and the value.",
    ),
    Code(
        "G007",
        "error",
        "case setting or review cannot affect the node it names",
        "A `case.judgements` entry names a goal whose status comes from what supports it "
        "(evidence, sub-goals): judgements develop only goals the pattern leaves "
        "undeveloped. A `case.rationale` entry names a node that is no justification. A "
        "review record [RV] names a context, strategy or assumption. Each would be ignored, "
        "and a reader of the files would believe it counted: amlas refuses it instead.",
        "R22",
    ),
    Code(
        "G008",
        "warning",
        "artefact did not load: the case is incomplete",
        "An artefact file exists but did not load (its own errors say why). The case is "
        "built without it: every claim resting on it is undeveloped, and the findings it "
        "would have answered (an empty multiplicity, an unfilled placeholder, a setting or "
        "a project node naming a node it would have held) are withheld so that none "
        "contradicts the files.",
    ),
    Code(
        "G009",
        "error",
        "project argument node cannot be placed",
        "A node of `case.argument` in amlas.yaml repeats an ID of the case, attaches "
        "`under` a node the case does not hold (or one that is no goal or strategy), links "
        "to a project node that does not exist or of the wrong type (a context under "
        "`supported_by`), cites evidence or reviews while not a solution, cites a review "
        "[RV] does not hold, or is reached from no node of the case. It would be missing "
        "from the case, or misplaced: amlas refuses it.",
    ),
    Code(
        "G010",
        "warning",
        "component case incomplete in the system case",
        "The system case holds one AMLAS argument per ML component. A component whose "
        "project does not load, or an ML component of [C] without a project, leaves its "
        "place under the system's top claim undeveloped; the message names it.",
    ),
    # -- A: approvals (sign-offs on the safety case, ``amlas sign``, the gate's approvals) -------
    Code(
        "A001",
        "error",
        "sign-off cannot be read",
        "A file under `signoffs/` is not a signed statement `amlas sign` writes (not JSON, "
        "not the schema `amlas.signoff/1`, a field missing or added), or its scope is no "
        "node of the case it was signed over. It approves nothing. Restore it from version "
        "control, or remove it and sign again.",
    ),
    Code(
        "A002",
        "error",
        "sign-off signature does not verify",
        "The Ed25519 signature of a sign-off does not match its statement: the statement was "
        "edited after it was signed (its decision, scope, comment, date or case digest), or "
        "it was forged. It approves nothing.",
    ),
    Code(
        "A003",
        "error",
        "a key used outside its role",
        "A sign-off (or `amlas sign`) uses a key for what its holder is not declared to do: "
        "the verifier role's evidence-signing key (`verifier_key`), which signs "
        "verification records and never approvals; a person's key signing as another "
        "person; or a role the person is not declared with under `people:`.",
    ),
    Code(
        "A004",
        "error",
        "signed by an undeclared key",
        "A sign-off (or `amlas sign`, or an assessor's bundle) is signed with a key that no "
        "person under `people:` in `amlas.yaml` holds. Anyone can make a key; only the "
        "declared ones count. Declare the person and their public key (reviewed like any "
        "change to the project), then sign again.",
    ),
    Code(
        "A005",
        "warning",
        "sign-off is stale",
        "A sign-off was made over an earlier build of the safety case: the case digest it "
        "signed no longer matches, because a record, an artefact, a review or a node's "
        "status changed since. The message lists what changed. It no longer counts as an "
        "approval for `amlas gate`; the signer reviews the changes and signs again.",
        rule="R23",
    ),
    Code(
        "A006",
        "error",
        "an approval the gate can never get",
        "`case.approvals` requires a role no declared person holds, names a role twice, or "
        "names a scope that is no node of the case: `amlas gate` would stay shut for ever.",
    ),
    Code(
        "A007",
        "error",
        "person or key declared twice, or the verifier's key as a person's",
        "Each person under `people:` is declared once, and a key identifies one person; the "
        "verifier role's `verifier_key` signs verification evidence and is never a person's "
        "key for approvals.",
    ),
    Code(
        "A008",
        "info",
        "person without a key",
        "A person under `people:` declares no public key yet, so they cannot sign (an "
        "approval the gate requires of them stays awaited). `amlas keygen --signing KEYFILE "
        "--person ID --project DIR` makes a key outside the project and writes its public "
        "half into their entry.",
    ),
    # -- B: the assessor's bundle (``amlas bundle``, ``amlas verify-bundle``) -----------------
    Code(
        "B001",
        "error",
        "bundle cannot be read",
        "The file given to `amlas verify-bundle` is missing, is not a zip archive, or is cut "
        "short (truncated in transfer).",
    ),
    Code(
        "B002",
        "error",
        "unsafe entry in the bundle",
        "An entry of the archive would land outside the folder it is read into (an absolute "
        "path, a `..` component, a drive letter or a backslash), is a symbolic link, is "
        "encrypted, uses an unknown compression, or is in the archive twice. Nothing is "
        "trusted from such an archive.",
    ),
    Code(
        "B003",
        "error",
        "archive bomb",
        "The archive holds more entries or more bytes than a bundle can, an entry inflates "
        "far more than text and JSON do, or an entry inflates to more than its header "
        "states. It is not read further.",
    ),
    Code(
        "B004",
        "error",
        "not an amlas bundle",
        "The archive lacks the `AMLAS-BUNDLE` mark, `MANIFEST.json` or `stated-inputs.json`, "
        "one of them does not parse, or the bundled project does not load.",
    ),
    Code(
        "B005",
        "error",
        "bundle signature refused",
        "`MANIFEST.sig` does not verify `MANIFEST.json` with the bundler's key (the manifest "
        "was changed after signing), or the key is not one a person of the bundled "
        "`amlas.yaml` holds (the bundle was re-signed by someone else), or not one of the "
        "keys given with `--expect-key`.",
    ),
    Code(
        "B006",
        "error",
        "a bundled file changed",
        "A file's SHA-256 or size is not what the signed manifest lists (or its bytes fail "
        "the archive's CRC): it was changed after the bundle was made. The message names it.",
    ),
    Code(
        "B007",
        "error",
        "a bundled file missing or added",
        "A file the signed manifest lists is not in the archive, or the archive holds a file "
        "the manifest does not list.",
    ),
    Code(
        "B008",
        "error",
        "access log broken in the bundle",
        "The bundled access log of a sealed dataset is missing, its hash chain is broken "
        "(a line edited, deleted, inserted or moved) or an entry's signature does not verify "
        "with the declared verifier key.",
    ),
    Code(
        "B009",
        "error",
        "bundled evidence damaged",
        "A bundled evidence record does not match its digest or does not parse, or a ref or "
        "run names a record that is not there.",
    ),
    Code(
        "B010",
        "error",
        "the case does not follow from the bundle",
        "The safety case rebuilt from the bundled artefacts and evidence records (the data "
        "and model files' hashes taken as the bundle states them) differs from the bundled "
        "`case/case.json`, or from the case digest the signed manifest states. The message "
        "says which nodes, records and artefacts differ.",
    ),
    Code(
        "B011",
        "error",
        "a bundled rendering differs from the case",
        "`case/case.md` or `case/case.junit.xml` is not what the bundled case renders to: it "
        "was edited after the bundle was made and the manifest signed again. (The gsn2x, SVG "
        "and report files are bound by the signed manifest's hashes only.)",
    ),
    # -- R: problems found while running ------------------------------------------------------
    Code(
        "R001",
        "error",
        "optional extra not installed",
        "The command needs a package of an optional extra (torch, onnx, formal, images, "
        "adversarial, monitor, sklearn, a database driver) that is not installed. The message "
        "ends with the `pip install` command that adds it.",
    ),
    Code(
        "R002",
        "error",
        "run setting cannot be used",
        "A command-line option or a setting read while running has a value the command "
        "cannot use (a stage it does not cover, a role without its key, a file of an unknown "
        "format). The message names the value and what was expected.",
    ),
    Code(
        "R010",
        "error",
        "dataset cannot be read",
        "A dataset file (or image folder, or sealed copy) is missing, is a folder, or cannot "
        "be read in its declared format (a broken CSV, Parquet or NPZ file, an unreadable "
        "image, a column of a type no check can use).",
    ),
    Code(
        "R011",
        "error",
        "dataset column missing or of the wrong type",
        "A column a check needs is not in the data, or holds values of the wrong type (text "
        "where numbers are needed, e.g. a feature column with a word in it).",
    ),
    Code(
        "R013",
        "error",
        "inputs hold NaN or infinite values",
        "The model's inputs (a feature, an image, an array) hold NaN or infinite values; "
        "checks that perturb or bound inputs need finite numbers. Clean the data or declare "
        "the rows as out of the ODD.",
    ),
    Code(
        "R020",
        "error",
        "model cannot be loaded",
        "The model [V] names cannot be loaded: its file is missing or of another format, the "
        "callable cannot be imported, loading raised, or it returned no model.",
    ),
    Code(
        "R021",
        "error",
        "model output has the wrong shape or type",
        "The model answered with another number of rows or classes than asked, with values "
        "that are not numbers, or with nothing at all.",
    ),
    Code(
        "R022",
        "error",
        "model probabilities invalid",
        "The model's probabilities are negative, above 1, or do not sum to 1 per sample "
        "(often logits returned where probabilities are expected). The message names how "
        "many samples and the first one.",
    ),
    Code(
        "R023",
        "error",
        "model raised an exception",
        "Calling the model raised; the message quotes the exception in one line.",
    ),
    Code(
        "R024",
        "error",
        "model ended the process",
        "The model (or its loader) called `sys.exit` or raised `SystemExit`: a model returns "
        "its answer or raises, it never ends the process.",
    ),
    Code(
        "R025",
        "error",
        "model did not answer in time",
        "Loading the model or a prediction ran past [V] `timeout_s`.",
    ),
    Code(
        "R030",
        "error",
        "perturbation impossible on these inputs",
        "A perturbation's settings cannot be applied to the data: an occlusion patch under one "
        "pixel, a value range that is empty or not finite, an epsilon or step out of range, "
        "a perturbed feature the model does not take.",
    ),
    Code(
        "R031",
        "error",
        "fault injection impossible",
        "The faults an [H] requirement asks for cannot be injected into this model (no layer "
        "of the named kind, more faults than weights, settings out of range).",
    ),
    Code(
        "R040",
        "error",
        "formal verification cannot run",
        "The network is not one the formal leg can read (an ONNX operator or layout it does "
        "not support), or the property's inputs, region or settings do not fit it.",
    ),
    Code(
        "R050",
        "error",
        "monitor not configured, or its file unusable",
        "[DD] configures no runtime monitor, or its monitor file is missing, outside the "
        "project, not JSON, not an `amlas.monitor/1` file, inconsistent, or stale (calibrated "
        "on other data or settings). `amlas monitor calibrate` writes it.",
    ),
    Code(
        "R051",
        "error",
        "inputs do not fit the monitor",
        "Inputs or their ODD metadata have another type, shape or set of columns than the "
        "monitor was calibrated on.",
    ),
    Code(
        "R052",
        "error",
        "monitor cannot be calibrated",
        "The development [N] or internal test [O] data cannot fit or calibrate the monitor: "
        "a dataset missing or sealed, too few samples, no variation, or non-finite inputs "
        "or scores.",
    ),
    Code(
        "R053",
        "error",
        "field log missing or malformed",
        "The [DD] field log cannot be read, or a line of it does not parse or is not an "
        "entry of the expected form (a period, flag, review, incident or label). Each bad "
        "line is reported with its number; nothing is ingested.",
    ),
    Code(
        "R060",
        "error",
        "key or sealed file unusable",
        "The verifier key file is missing or not a key, the key does not open the sealed "
        "data, or a sealed file is not in the amlas format.",
    ),
    Code(
        "R061",
        "error",
        "sealed data or access log modified",
        "A sealed file or the access log was changed after it was written, or is damaged: "
        "nothing read from it can be trusted.",
        "R15",
    ),
    Code(
        "R070",
        "error",
        "evidence store unusable",
        "The evidence store cannot be opened, read or written: its path is a file where a "
        "folder is expected (or the reverse), its URI has an unknown scheme, or the database "
        "cannot be reached.",
    ),
    Code(
        "R071",
        "error",
        "evidence record damaged",
        "A stored record does not parse, or no longer hashes to its digest: tampered "
        "evidence is never used.",
        "R23",
    ),
    Code(
        "R080",
        "error",
        "imported file or document unusable",
        "The file given to `amlas evidence import`, or the document it names, lies outside "
        "the project, does not exist or is no regular file. Imported evidence rests on "
        "files inside the project, hashed, so that a change to them makes the record stale.",
    ),
    Code(
        "R081",
        "error",
        "a result claimed without counts",
        "A counts import states a verdict, an estimate, a percentage, a bound or [H]'s own "
        "threshold or confidence instead of counts, or a slice gives incomplete counts. "
        "A claimed result is never evidence: give `successes` and `trials` (a proportion) "
        "or `events`, `exposure` and `unit` (a count rate) per slice; amlas computes the "
        "bound and the verdict itself from [H].",
    ),
    Code(
        "R082",
        "error",
        "count not a non-negative whole number",
        "A count (`successes`, `trials`, `events`) of an imported file is negative, a "
        "decimal number, a percentage or text, or an `exposure` is negative or not finite.",
    ),
    Code(
        "R083",
        "error",
        "more successes than trials",
        "A slice of an imported file counts more successes than trials; `successes` is the "
        "metric's numerator and lies in 0..`trials`.",
    ),
    Code(
        "R084",
        "error",
        "slice counted twice",
        "Two slices of an imported file have the same name: each slice is counted once.",
    ),
    Code(
        "R085",
        "error",
        "imported evidence names what the project does not hold",
        "The requirement or node an import is for (`for:`, `--for`) is no [H] requirement "
        "nor a goal or solution of the safety case, or a slice's `cell` names an ODD "
        "dimension, band or category [B] does not have. The message suggests a close match.",
    ),
    Code(
        "R086",
        "error",
        "imported evidence does not fit its target",
        "Counts for a requirement without a metric, threshold or confidence, for a metric "
        "that is not judged from such counts (successes of trials for a proportion, events "
        "over an exposure for a rate), for a requirement `verified_by: review`, for a node "
        "instead of a requirement, with slices "
        "counting in different ways or outside the requirement's `applies_to`, or missing a "
        "band the requirement must hold in; or a document for a stage-1 or stage-2 node.",
    ),
    Code(
        "R087",
        "error",
        "imported counts from other data or another model",
        "The imported file gives the SHA-256 of the data (`data.sha256`, with `--dataset X`) "
        "or of the model (`model_sha256`) the counts were produced with, and it is not the "
        "hash of [X] or of the model [V] names now: the counts are not evidence about them.",
        "R23",
    ),
    Code(
        "R090",
        "error",
        "event counts or exposure unusable",
        "Counts for a rate (events per unit of exposure, e.g. false positives per image) "
        "cannot be used: a negative or fractional count, an exposure that is negative, not "
        "finite, or zero where events were counted, or per-unit counts that do not add up to "
        "their slice's events and exposure.",
    ),
    Code(
        "R091",
        "error",
        "values for a quantile unusable",
        "The values whose quantile a requirement bounds (e.g. absolute regression errors) "
        "are not a 1-D array of numbers, or hold NaN or infinite values: a sample without a "
        "usable value must leave the data explicitly.",
    ),
    Code(
        "R092",
        "error",
        "sequence data unusable",
        "The sequence ids, frame numbers, failure flags or slice codes of a check over "
        "windows of consecutive frames cannot be used: arrays of different lengths, frame "
        "numbers that are not whole numbers or repeat within a sequence, failure flags other "
        "than booleans or 0/1, slice codes beyond the number of slices.",
    ),
    Code(
        "R093",
        "error",
        "statistical setting out of range",
        "A setting of a statistical check is out of range: a confidence level or quantile "
        "outside (0, 1), a negative or non-finite rate threshold, an unknown comparison or "
        "side, a window of no frame, or more failures allowed per window than it has frames.",
    ),
    Code(
        "R094",
        "error",
        "boxes unusable",
        "A set of boxes (ground-truth objects or detections) cannot be matched: an image "
        "index or class code out of range, a missing or infinite coordinate, a box of "
        "negative width or height, a non-finite score, a detection marked as a crowd "
        "region, or columns of different lengths.",
    ),
    Code(
        "R095",
        "error",
        "detections duplicated",
        "A detection repeats an earlier one exactly (same image, class, box and score): "
        "COCO would count it twice; amlas refuses it.",
    ),
    Code(
        "R096",
        "error",
        "precondition column missing from the data",
        "A requirement's `precondition` names a column the data read by the run does not "
        "hold (neither the dataset's table nor, for a detector, its objects' attributes). "
        "`amlas check` finds this before the run where the columns are known (Q019).",
    ),
    Code(
        "R097",
        "error",
        "precondition cannot compare the column",
        "A requirement's `precondition` compares a column with a value it cannot be "
        "compared with: a number (`lt`, `le`, `gt`, `ge`) with a column of text, or a "
        "category that is no number with a column of numbers.",
    ),
    Code(
        "R098",
        "error",
        "Dask scheduler cannot be reached",
        "`amlas run --engine dask --scheduler ADDRESS`: no Dask scheduler answers at the "
        "address within 30 s, or the address is malformed. Start the scheduler and its "
        "workers first (`dask scheduler`, `dask worker ADDRESS`), or leave out --scheduler "
        "for a LocalCluster on this machine.",
    ),
    Code(
        "R099",
        "error",
        "sealed data would reach the cluster in clear",
        "The Dask engine sends each chunk's decrypted rows to a worker (the verifier's key "
        "stays on this machine). For a sealed dataset amlas accepts only a LocalCluster "
        "(no --scheduler) or a `tls://` scheduler, whose workers must be the verifier's own "
        "machines (docs/scale.md).",
    ),
    Code(
        "R100",
        "error",
        "review cannot be pinned",
        "`amlas review pin DIR ID`: the project has no review records [RV] that load, none "
        "with that ID, or the review names an item or document that does not exist now (so "
        "there is nothing to pin it to), or its `sha256` is written in a form the pin "
        "cannot replace in place. Nothing is written.",
    ),
    Code(
        "R101",
        "error",
        "a Dask worker's model or data is not the run's",
        "A Dask worker found a model file, model code or [V] settings under the project's "
        "path that differ from the client's, so its predictions would not be those of the "
        "model the records cite; or, reading its rows of a plaintext Parquet dataset "
        "itself, found the file with another size or modification time than the one the "
        "client hashed. The workers must see the project's files at the same path, "
        "unchanged during the run (a shared file system).",
    ),
    Code(
        "R110",
        "error",
        "cannot sign as asked",
        "`amlas sign` or `amlas keygen --signing`: the signing key file is not an Ed25519 "
        "private key amlas can read (PKCS#8 PEM or OpenSSH, unencrypted), lies inside the "
        "project, or the scope is no node of the case, or an approval with conditions "
        "states none (`--comment`), or the person to declare the key for is not declared. "
        "Nothing is written.",
    ),
)

CODES: dict[str, Code] = {c.code: c for c in _TABLE}
if len(CODES) != len(_TABLE):  # pragma: no cover - caught by the test suite at once
    raise RuntimeError("duplicate diagnostic code")
