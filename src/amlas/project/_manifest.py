"""The project manifest, ``amlas.yaml``: what the project is and where its artefacts are."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import Field, field_validator, model_validator

from amlas.project.artefacts import ARTEFACTS
from amlas.project.artefacts._base import Item, Text
from amlas.sealing import check_public_key

__all__ = [
    "DEFAULT_CRITICALITY",
    "INDEPENDENCE",
    "MANIFEST_FILE",
    "SYSTEM_LETTERS",
    "Allowance",
    "ApprovalRule",
    "ArgumentNode",
    "CaseSettings",
    "ComponentProject",
    "Criticality",
    "Defaults",
    "EngineSettings",
    "Judgement",
    "Manifest",
    "Person",
]

MANIFEST_FILE = "amlas.yaml"

SYSTEM_LETTERS = ("A", "B", "C")
"""The artefacts a system project holds for all its ML components: the system safety
requirements, the operating environment and the system description."""
FORMAT_VERSION = 1

Criticality = Literal["low", "medium", "high", "very_high"]

DEFAULT_CRITICALITY: Criticality = "high"
"""The criticality of a project whose ``amlas.yaml`` states none: the cautious choice."""

Letter = Literal[
    "A",
    "B",
    "C",
    "D",
    "E",
    "H",
    "J",
    "L",
    "M",
    "N",
    "O",
    "P",
    "Q",
    "U",
    "V",
    "AA",
    "DD",
    "EE",
    "RV",
]
"""The user-written artefacts (``ARTEFACTS`` keys)."""


NodePattern = Annotated[str, Field(pattern=r"^[A-Za-z*?][A-Za-z0-9_.*?\-]*$")]
"""A safety-case node ID, or a glob over instantiated IDs such as 'G5.6.*'."""

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]*(@[A-Za-z][A-Za-z0-9_.\-]*)?$")]
"""One instantiated node ID of a case; in a system's case with its '@component' suffix."""

RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
"""A sign-off role, lower case with dashes: 'safety-assessor', 'independent-verifier'."""

Independence = Literal["author", "same_team", "independent_team", "independent_organisation"]
INDEPENDENCE: tuple[str, ...] = get_args(Independence)
"""Independence from the development team, least first (as review records [RV] state it)."""


class Person(Item):
    """Someone who signs the safety case (``amlas sign``) or an assessor's bundle, and the
    public half of their Ed25519 key. The private half never enters the project."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]*$")]
    """Unique among the people, e.g. 'ASSESSOR-1'; sign-offs name the signer by it."""
    name: Text
    organisation: str = ""
    roles: Annotated[list[RoleName], Field(min_length=1)]
    """What they sign as, e.g. ['safety-assessor'] or ['independent-verifier']; a sign-off
    in any other role is refused (A003)."""
    independence: Independence
    """How independent of the development team: author, same_team, independent_team
    (same organisation, another team) or independent_organisation."""
    key: str | None = None
    """Their Ed25519 public key, ``ed25519:`` and 44 characters (``amlas keygen --signing
    K --person ID DIR`` writes it); without one they cannot sign."""

    @field_validator("key")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        return check_public_key(value) if value is not None else None


class ApprovalRule(Item):
    """Approvals ``amlas gate`` requires: one current approval per role on the scope."""

    scope: NodeId | None = None
    """The node approved: an instantiated node ID of the case (e.g. 'G1.1', 'G5.1.MLR-3');
    omitted: the case's top claim. An approval of a node above it also counts."""
    require: Annotated[list[RoleName], Field(min_length=1)]
    """The roles that must approve it, e.g. [safety-assessor, independent-verifier]: one
    approval per role, by different people (one person counts for one role of a rule)."""
    independence: Independence | None = None
    """The least independence an approver must have, e.g. independent_team."""


class Judgement(Item):
    """A human judgement that develops a goal the AMLAS pattern leaves undeveloped."""

    text: Text
    """The judgement and what it rests on."""
    by: Text
    """Who made it (name and role)."""
    date: dt.date
    """When it was made."""
    references: list[Text] = Field(default_factory=list)
    """Documents or artefacts it cites, e.g. '[AA] platform section', 'HIL test report 7'."""


class Allowance(Item):
    """A node the gate accepts although it is not supported, and why."""

    node: NodePattern
    """The node ID or a glob over instantiated IDs, e.g. 'G6.7' or 'G5.6.*'."""
    reason: Text
    """Why the safety case may stand without it for now (reviewed by the assessor)."""


class ArgumentNode(Item):
    """A node of the project's own argument, added under a node of the AMLAS patterns
    (e.g. a requirement-specific goal argued by an architectural measure). It is marked
    as an extension in every output and holds only as its support does."""

    id: NodePattern
    """Unique in the case, e.g. 'G-CAGE-1' (not a pattern node's ID)."""
    type: Literal["goal", "strategy", "solution", "context", "assumption", "justification"]
    text: Text
    """The claim, strategy, solution, context, assumption or justification in words."""
    under: NodePattern | None = None
    """Where it attaches: the ID of an instantiated node of the case (e.g. 'G2.4.MLR-3')
    that this node supports (goals, strategies, solutions) or is context of (contexts,
    assumptions, justifications). Omitted for a node reached from another project node."""
    supported_by: list[NodePattern] = Field(default_factory=list)
    """IDs of project nodes that support this one."""
    context: list[NodePattern] = Field(default_factory=list)
    """IDs of project contexts, assumptions or justifications of this one."""
    evidence: list[Annotated[str, Field(pattern=r"^[a-z0-9][A-Za-z0-9_./\-]*$")]] = Field(
        default_factory=list
    )
    """Solutions: evidence record keys it cites (e.g. 'stage5/MLR-10/P'); each must exist
    and pass."""
    reviews: list[str] = Field(default_factory=list)
    """Solutions: IDs of review records [RV] it cites; the latest decides, as elsewhere."""


class CaseSettings(Item):
    """How the safety case is instantiated and gated (``amlas case``, ``amlas gate``)."""

    library: str = "amlas-1.1"
    """The pattern library: a name shipped with amlas, or a folder in the project."""
    rationale: dict[NodePattern, Text] = Field(default_factory=dict)
    """Justification node ID (e.g. 'J4.1', or 'J5.1.MLR-3' for one instance) -> the
    recorded rationale; overrides the text the pattern reads from an artefact."""
    judgements: dict[NodePattern, Judgement] = Field(default_factory=dict)
    """Goal ID the pattern leaves undeveloped (e.g. 'G5.8', 'G6.7') -> the judgement that
    develops it."""
    allow_undeveloped: list[Allowance] = Field(default_factory=list)
    """Undeveloped nodes ``amlas gate`` accepts, each with its reason."""
    allow_inconclusive: list[Allowance] = Field(default_factory=list)
    """Inconclusive nodes ``amlas gate`` accepts, each with its reason."""
    argument: list[ArgumentNode] = Field(default_factory=list)
    """The project's own argument: goals, strategies, solutions (and their contexts)
    added under nodes of the patterns, citing evidence or reviews like any other node."""
    approvals: list[ApprovalRule] = Field(default_factory=list)
    """Sign-offs ``amlas gate`` requires (``people:`` sign them with ``amlas sign``), e.g.
    ``[{require: [safety-assessor, independent-verifier]}]`` for the top claim."""


class ComponentProject(Item):
    """One ML component of a system project, and where its own project lives."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]*$")]
    """The component's ID in the system description [C] (a component of kind ml); the
    case suffixes the component's node IDs with it (``G1.1@CMP-1``)."""
    path: Text
    """The component's project directory, relative to the system project (inside it);
    its ``amlas.yaml`` says ``part_of:`` back to the system."""


class Defaults(Item):
    """Values the artefacts fall back on where they state none; every record that uses
    one says so, and cites it as an input (a changed default makes it stale)."""

    confidence: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """Confidence level of the bound for every ML safety requirement [H] that states no
    ``confidence`` of its own, e.g. 0.95."""


class EngineSettings(Item):
    """Where ``amlas run`` works on the chunks of a dataset it reads in chunks, and how
    large they are (docs/scale.md): the project's choice, which the options of ``amlas
    run`` override field by field (``--engine``, ``--scheduler``, ``--workers``,
    ``--chunk-rows``). The records do not depend on it."""

    name: Literal["local", "dask"] | None = None
    """``local`` (this process) or ``dask`` (a Dask cluster; needs ``amlas[dask]``).
    Omitted: ``dask`` when ``scheduler`` or ``workers`` is given, else ``local``."""
    scheduler: Annotated[str, Field(pattern=r"^[a-z][a-z0-9+]*://\S+$")] | None = None
    """The Dask scheduler's address, e.g. ``tls://verify-1:8786`` (a sealed [P] needs
    ``tls://``); omitted: a LocalCluster on this machine, for the run."""
    workers: Annotated[int, Field(ge=1, le=4096, strict=True)] | None = None
    """Worker processes of the LocalCluster (one thread each; default 2); a scheduler's
    cluster has its own."""
    chunk_rows: Annotated[int, Field(ge=1)] | None = None
    """Rows per chunk (default 1048576), rounded to whole batches of the model; memory
    grows with it, the records do not change."""

    @model_validator(mode="after")
    def _consistent(self) -> EngineSettings:
        if self.name == "local" and self.scheduler is not None:
            raise ValueError(
                f"scheduler {self.scheduler!r} names a Dask cluster, and name is 'local': "
                "write name: dask, or leave out the scheduler"
            )
        if self.name == "local" and self.workers is not None:
            raise ValueError(
                "workers sizes the LocalCluster of the dask engine, and name is 'local': "
                "write name: dask, or leave out workers"
            )
        if self.scheduler is not None and self.workers is not None:
            raise ValueError(
                f"workers sizes a LocalCluster, and scheduler {self.scheduler!r} names a "
                "cluster that has its own workers: leave out one of them"
            )
        return self

    def over(self, base: EngineSettings) -> EngineSettings:
        """These settings laid over ``base`` (a component's over its system's): where the
        chunks are worked on (``name``, ``scheduler``, ``workers``) comes whole from these
        settings when they state any of it, else from ``base``; ``chunk_rows`` from these
        when stated, else from ``base``. Taking the three together keeps the result as
        consistent as each side (a component's ``workers`` never meets the system's
        ``scheduler``)."""
        where = self if self.model_fields_set & {"name", "scheduler", "workers"} else base
        return EngineSettings(
            name=where.name,
            scheduler=where.scheduler,
            workers=where.workers,
            chunk_rows=self.chunk_rows if self.chunk_rows is not None else base.chunk_rows,
        )

    @property
    def engine(self) -> Literal["local", "dask"]:
        """The engine these settings choose (``name``, or what it defaults to)."""
        if self.name is not None:
            return self.name
        return "dask" if self.scheduler is not None or self.workers is not None else "local"


class Manifest(Item):
    """``amlas.yaml``: the root of an AMLAS project."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset(
        {"criticality", "defaults", "part_of", "components", "engine", "people"}
    )

    amlas: Literal[1]
    """Project format version; this release reads format 1."""
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    """Short project name (lower case, digits and dashes)."""
    component: Text
    """The ML component this safety case is about."""
    description: str = ""
    """What the project covers, in a sentence or two."""
    criticality: Criticality | None = None
    """How critical the component is (low, medium, high, very_high); later stages scale
    independence and rigour with it. Optional: when unset the effective criticality is
    'high', and every message that uses it says the default was applied."""
    evidence: Annotated[str, Field(pattern=r"^[a-z][a-z0-9+]*://")] = "fs://evidence"
    """Evidence store URI: ``fs://evidence`` (files in the project, the default) or an
    SQLAlchemy URL such as ``sqlite:///evidence.db``."""
    artefacts: dict[Letter, Text] = Field(default_factory=dict)
    """Artefact letter -> project-relative file, for files not at their default location."""
    case: CaseSettings = Field(default_factory=CaseSettings)
    """Safety case settings: recorded rationale and judgements, and the gate policy."""
    defaults: Defaults | None = None
    """Project-wide defaults, e.g. ``{confidence: 0.95}`` for the requirements of [H]
    that state no confidence."""
    part_of: Text | None = None
    """A component project of a system: the system project's directory, relative to this
    one (e.g. ``../..``). [A] [B] [C] are then read from the system, never from here."""
    components: list[ComponentProject] = Field(default_factory=list)
    """A system project: its ML components, each with its own project (its own [D], [E],
    [H], data, model and evidence). The system project itself holds only [A] [B] [C]; its
    case has one AMLAS argument per component under one root."""
    engine: EngineSettings | None = None
    """Where ``amlas run`` works on the chunks of a large dataset, e.g. ``{name: dask,
    scheduler: tls://verify-1:8786, chunk_rows: 262144}``; the options of ``amlas run``
    override it (docs/scale.md). In a system project: the setting of every component,
    which a component's own ``engine:`` overrides. Omitted: this process, chunks of
    1048576 rows."""
    verifier_key: str | None = None
    """The verifier role's public signing key, ``ed25519:`` and 44 characters (``amlas
    keygen`` prints it; ``amlas seal`` writes it here when absent). Verification evidence,
    the access log of sealed data and the seal of [P] count only when signed by it."""

    people: list[Person] = Field(default_factory=list)
    """Who signs the safety case and the assessor's bundle: name, organisation, roles,
    independence and public key each (docs/signoff.md)."""

    @field_validator("verifier_key")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        return check_public_key(value) if value is not None else None

    def person(self, person_id: str) -> Person | None:
        """The declared person with this ID."""
        return next((p for p in self.people if p.id == person_id), None)

    def person_with_key(self, public_key: str) -> Person | None:
        """The declared person whose key this is."""
        return next((p for p in self.people if p.key == public_key), None)

    @property
    def effective_criticality(self) -> Criticality:
        """The criticality every rule and record uses: the stated one, else
        :data:`DEFAULT_CRITICALITY` (read it here, never re-implement the default)."""
        return self.criticality if self.criticality is not None else DEFAULT_CRITICALITY

    @property
    def criticality_defaulted(self) -> bool:
        """True when ``amlas.yaml`` states no criticality and the default applies."""
        return self.criticality is None

    @property
    def criticality_text(self) -> str:
        """The effective criticality as messages state it, saying when it is the default,
        e.g. "'high' (the default: amlas.yaml states no criticality)"."""
        text = repr(self.effective_criticality)
        if self.criticality_defaulted:
            text += f" (the default: {MANIFEST_FILE} states no criticality)"
        return text

    @property
    def is_system(self) -> bool:
        """True for a system project (it declares ``components``)."""
        return bool(self.components)

    def path_of(self, letter: str) -> str:
        overrides: dict[str, str] = {str(k): v for k, v in self.artefacts.items()}
        return overrides.get(letter, ARTEFACTS[letter].default_path)
