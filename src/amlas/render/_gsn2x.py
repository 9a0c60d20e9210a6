"""The safety case as gsn2x YAML (../shared/GSN2X.md): one module file per stage and an
index that ``uses`` them, so ``gsn2x index.gsn.yaml`` renders and checks the whole case.

Mapping decisions:

* IDs are the case's instance IDs (``G5.1.MLR-3``), unique across modules (C07); the
  gsn2x type follows from the prefix (``CSn``, ``Sn-``, ``G``, ``S``, ``C``, ``A``, ``J``).
* A context backed by another module's argument (C2.2 by G3.1, C2.3 by G4.1) cannot carry
  a relation in gsn2x (V04), so the goals in whose context it sits get ``supportedBy`` to
  the backing goal instead: the data and learning arguments stay reachable from the one
  root (C01, C08), and the status that flows up is the same.
* ``status``, ``pattern`` and ``evidence`` (the cited records' SHA-256 digests) are
  additional layers (``gsn2x -l status``), and ``classes`` carries ``status-<status>``.
* Counter-solutions carry ``challenges`` and the goal they challenge ``defeated: true``.
* Nodes that are not AMLAS v1.1's (the library's extensions, the project's own argument
  of ``case.argument``) carry the class ``extension``.

The YAML is written by libyaml's C emitter (``yaml.CSafeDumper``) when PyYAML was built
with it, else by PyYAML's pure-Python ``SafeDumper``: the two write the same bytes (a
test compares them on a real case), the C one about five times faster on a large case.
"""

from __future__ import annotations

from typing import Any

import yaml

from amlas.case import Case, Node
from amlas.render._detail import detail_note

__all__ = ["INDEX_FILE", "render_gsn2x"]

INDEX_FILE = "index.gsn.yaml"
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the C emitter, if built


def _element(node: Node, case: Case, backed: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {"text": node.text}
    support = list(node.supported_by)
    for ctx in node.in_context_of:
        support += [g for g in backed.get(ctx, []) if g not in support]
    if node.is_claim:
        if support:
            out["supportedBy"] = support
        else:
            out["undeveloped"] = True
        if node.in_context_of:
            out["inContextOf"] = list(node.in_context_of)
    if node.challenges:
        out["challenges"] = node.challenges
    if node.defeated:
        out["defeated"] = True
    out["classes"] = [f"status-{node.status}"] + (["extension"] if node.extension else [])
    out["status"] = node.status
    out["pattern"] = node.pattern_id
    if node.evidence:
        out["evidence"] = " ".join(node.evidence)
    return out


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=100)


def render_gsn2x(case: Case) -> dict[str, str]:
    """File name -> YAML text: ``index.gsn.yaml`` and one ``<module>.gsn.yaml`` per stage."""
    backed: dict[str, list[str]] = {}
    for node in case.nodes.values():
        if node.backed_by:
            backed.setdefault(node.id, []).append(node.backed_by)
    files: dict[str, str] = {}
    for module in case.modules:
        nodes = case.module_nodes(module.name)
        if not nodes:
            continue
        status = case.module_status(module)
        data: dict[str, Any] = {
            "module": {
                "name": module.name,
                "brief": f"{module.title} [{module.argument}], instantiated from pattern "
                f"[{module.pattern}] of {case.library}",
                "additionalInformation": {
                    "status": status or "undeveloped",
                    "stage": str(module.stage),
                },
            }
        }
        note = detail_note(case, [d for n in nodes for d in n.evidence])
        if note:
            data["module"]["additionalInformation"]["sealed_detail"] = note
        for node in nodes:
            data[node.id] = _element(node, case, backed)
        files[f"{module.name}.gsn.yaml"] = _dump(data)
    index = {
        "module": {
            "name": "index",
            "brief": f"Safety case for {case.component} ({case.project}); top claim "
            f"{case.root} is {case.top.status}",
            "uses": list(files),
        }
    }
    return {INDEX_FILE: _dump(index), **files}
