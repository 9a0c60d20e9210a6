"""Worked YAML examples of constructs the field tables alone explain poorly; the project
reference (``docs/artefacts.md``) prints each under its artefact, and a test loads every
one through its model, so an example can never show what the loader refuses."""

from __future__ import annotations

__all__ = ["WORKED_EXAMPLES"]

_MANIFEST = """\
amlas: 1
name: pedestrian-aeb
component: Pedestrian detector
# criticality left out: the effective criticality is 'high', and every message that
# uses it (e.g. M012 on independent verifiers) says the default was applied
"""

_A = """\
artefact: A
version: "1.0.0"
source: Hazard analysis and risk assessment HARA-7 (ISO 26262-3)
hazards:
  - id: HAZ-1
    description: A pedestrian in the path is not braked for and is struck.
    severity: catastrophic            # the plain severity class stays valid
    classification:                   # ISO 26262: the ASIL follows from Table 4
      scheme: iso26262
      severity: S3
      exposure: E4
      controllability: C3
      asil: D                         # optional; when stated it must be Table 4's (Q017)
      situation: urban street, pedestrians crossing
      rationale: HARA-7 row 12
  - id: HAZ-2
    description: Hard braking with nothing in the path; the car behind runs into it.
    classification:                   # a domain's own scheme: named fields, free values
      scheme: Larkspur risk matrix v2
      fields: {likelihood: occasional, consequence: minor injury}
      result: medium risk
requirements:
  - id: SSR-1
    text: Brake for every pedestrian in the path.
    controls: [HAZ-1]
  - id: SSR-2
    text: Do not brake with nothing in the path.
    controls: [HAZ-2]
"""

_B = """\
artefact: B
version: "1.0.0"
description: Motorway driving by day and night, dry or wet.
dimensions:
  - id: distance
    name: Distance to the object
    kind: numeric
    unit: m
    min: 0
    max: 120
    column: distance_m
    bands:                            # the default banding: [0, 50) [50, 80) [80, 120]
      - {name: near, min: 0, max: 50}
      - {name: mid, min: 50, max: 80}
      - {name: far, min: 80, max: 120}
    bandings:                         # further named bandings of the same range
      requirements:                   # "within 80 m" includes 80 m: [0, 80] (80, 120]
        - {name: within-80, min: 0, max: 80, max_inclusive: true}
        - {name: beyond-80, min: 80, max: 120, min_inclusive: false}
      bins10:                         # 10 m bins for completeness: [0, 10) ... [110, 120]
        - {name: d000, min: 0, max: 10}
        - {name: d010, min: 10, max: 20}
        - {name: d020, min: 20, max: 30}
        - {name: d030, min: 30, max: 40}
        - {name: d040, min: 40, max: 50}
        - {name: d050, min: 50, max: 60}
        - {name: d060, min: 60, max: 70}
        - {name: d070, min: 70, max: 80}
        - {name: d080, min: 80, max: 90}
        - {name: d090, min: 90, max: 100}
        - {name: d100, min: 100, max: 110}
        - {name: d110, min: 110, max: 120}
  - id: lighting
    name: Lighting
    kind: categorical
    values: [day, night]
    column: lighting
conditions:                           # fixed conditions no dataset column carries
  - id: ODD-C1
    name: Road type
    condition: motorways only
    assured_by: design                # the function is enabled on mapped motorways only
    rationale: The map gate of [C] enables the function only on motorway links.
  - id: ODD-C2
    name: Weather
    condition: no snow or ice; rain up to 10 mm/h
    assured_by: monitor
    monitored_by: [EB-3]              # [DD] erroneous behaviours or [C] barriers (D027)
    rationale: The rain-light sensor reports heavy rain and snow; EB-3 hands over.
  - id: ODD-C3
    name: Road surface
    condition: paved and marked
    assured_by: assumption
    rationale: Motorways of the target market are paved and marked (road authority data).
"""

_H = """\
requirements:
  - id: MLR-1
    text: Recall on pedestrians within 80 m at least 0.99.
    kind: performance
    traces_to: [ALR-1]
    metric: recall
    class: pedestrian
    threshold: 0.99
    confidence: 0.95
    applies_to:
      where: {distance: [within-80]}  # a band of the banding named below (Q005)
      per: [lighting]
      banding: {distance: requirements}   # not the default bands (Q016 if unknown)
"""

_L = """\
requirements:
  - id: DR-2
    category: completeness
    text: Every 10 m of distance holds enough pedestrians.
    traces_to: [MLR-1]
    rule:
      check: min_samples_per_cell
      dimensions: [distance]
      banding: {distance: bins10}     # D026 if the banding is unknown
      min_samples: 50
      class: pedestrian
  - id: DR-4
    category: balance
    text: No 10 m bin is starved.
    traces_to: [MLR-1]
    rule: {check: slice_balance, dimension: distance, banding: bins10, min_fraction: 0.02}
"""

WORKED_EXAMPLES: dict[str, tuple[str, str]] = {
    "manifest": ("The criticality left to its default", _MANIFEST),
    "A": ("Hazards classified by ISO 26262 and by a domain's own scheme", _A),
    "B": ("Band ends, named bandings and fixed ODD conditions", _B),
    "H": ("A requirement judged in a named banding", _H),
    "L": ("Data rules that count in a named banding", _L),
}
"""Artefact letter (or 'manifest') -> (title, YAML): [A], [B] and the manifest are whole
documents; [H] and [L] show their ``requirements`` only."""
