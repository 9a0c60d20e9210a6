"""The safety case: the six AMLAS argument patterns as data, instantiated from the project
and its evidence into one GSN graph whose every node has a status.

Pipeline: :func:`load_library` reads a versioned pattern library (``amlas-1.1`` ships in
the package); :func:`build_case` instantiates it over the project's artefacts and the
evidence store, compares every cited record's input hashes with the project (stale), and
propagates statuses upward; :func:`gate` decides whether the top claim holds under a
policy. Renderers (``amlas.render``) only format a :class:`Case`.
"""

from amlas.case._build import build_case, check_case_settings, document_targets
from amlas.case._diff import (
    CaseDiff,
    EvidenceChange,
    NodeChange,
    RequirementChange,
    Snapshot,
    StatusChange,
    diff_snapshots,
    snapshot,
)
from amlas.case._impact import AffectedClaim, affected_claims
from amlas.case._library import (
    DEFAULT_LIBRARY,
    Library,
    LibraryError,
    check_library,
    load_library,
    project_library,
)
from amlas.case._model import (
    NODE_TYPES,
    STATUSES,
    ArtefactEntry,
    Case,
    CitedReview,
    Module,
    Node,
    NodeType,
    Status,
    case_digest,
)
from amlas.case._reviews import review_statuses
from amlas.case._signoff import (
    DECISIONS,
    SIGNOFF_DIR,
    Approvals,
    Decision,
    JudgedSignOff,
    RequiredApproval,
    case_fingerprint,
    changes_between,
    judge_approvals,
    judge_signoffs,
    sign_case,
    signoff_files,
)
from amlas.case._status import Allowance, GateResult, gate, propagate
from amlas.case._system import SystemCase, build_system_case, gate_system, suffixed

__all__ = [
    "DECISIONS",
    "DEFAULT_LIBRARY",
    "NODE_TYPES",
    "SIGNOFF_DIR",
    "STATUSES",
    "AffectedClaim",
    "Allowance",
    "Approvals",
    "ArtefactEntry",
    "Case",
    "CaseDiff",
    "CitedReview",
    "Decision",
    "EvidenceChange",
    "GateResult",
    "JudgedSignOff",
    "Library",
    "LibraryError",
    "Module",
    "Node",
    "NodeChange",
    "NodeType",
    "RequiredApproval",
    "RequirementChange",
    "Snapshot",
    "Status",
    "StatusChange",
    "SystemCase",
    "affected_claims",
    "build_case",
    "build_system_case",
    "case_digest",
    "case_fingerprint",
    "changes_between",
    "check_case_settings",
    "check_library",
    "diff_snapshots",
    "document_targets",
    "gate",
    "gate_system",
    "judge_approvals",
    "judge_signoffs",
    "load_library",
    "project_library",
    "propagate",
    "review_statuses",
    "sign_case",
    "signoff_files",
    "snapshot",
    "suffixed",
]
