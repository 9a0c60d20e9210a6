"""Read a report's fragments in Python, as the page script does in the browser.

The report keeps the case data, the diagrams and the rest of long tables deflated and
base64-encoded in ``<script type="application/x-amlas-pack">`` blocks; these helpers
inflate them so that the report's contents stay testable: :func:`case_data` is the data
the page script reads, :func:`expanded` the document with every fragment of markup put
where the page script puts it and every pack written out as its fragments, one after
another (the golden file's form, which does not depend on the zlib build's exact bytes).
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

from amlas.render._html import PACK_TYPE

PACK = re.compile(
    rf'<script type="{re.escape(PACK_TYPE)}" id="pack-(\d+)">([A-Za-z0-9+/=]*)</script>'
)
_PLACED = re.compile(r'(<div class="diagram" data-fragment="([\d.]+)"[^>]*>)(</div>)')
_REST = re.compile(r'(<tbody class="rest" data-rest="([\d.]+)" hidden>)(</tbody>)')


def packs(document: str) -> dict[int, list[str]]:
    """Every pack of the document, inflated: number -> its fragments (a line of their
    lengths in UTF-16 code units, then the fragments end to end)."""
    out = {}
    for number, block in PACK.findall(document):
        text = zlib.decompress(base64.b64decode(block)).decode("utf-8")
        header, _, rest = text.partition("\n")
        units = rest.encode("utf-16-le")
        items, at = [], 0
        for length in header.split(","):
            items.append(units[2 * at : 2 * (at + int(length))].decode("utf-16-le"))
            at += int(length)
        assert at * 2 == len(units), "the lengths do not add up to the pack"
        out[int(number)] = items
    return out


def fragment(document: str, ref: str, inflated: dict[int, list[str]] | None = None) -> str:
    """The fragment ``"P.I"`` (item I of pack P)."""
    pack, item = (int(part) for part in ref.split("."))
    return (inflated if inflated is not None else packs(document))[pack][item]


def case_data(document: str) -> dict[str, Any]:
    """The case data the page script reads (nodes, evidence, reviews, views)."""
    ref = re.search(r'<body data-case="([\d.]+)">', document)
    assert ref is not None, "the report names no case data"
    data = json.loads(fragment(document, ref.group(1)))
    assert isinstance(data, dict)
    return data


def expanded(document: str, *, data: bool = True) -> str:
    """The document with every diagram and every table's rest in place, and each pack
    written out as its fragments (or, with ``data=False``, left out)."""
    inflated = packs(document)

    def place(match: re.Match[str]) -> str:
        return match.group(1) + fragment(document, match.group(2), inflated) + match.group(3)

    out = _REST.sub(place, _PLACED.sub(place, document))

    def written(match: re.Match[str]) -> str:
        if not data:
            return ""
        text = "\n".join(inflated[int(match.group(1))])  # the fragments as they are
        return f'<script type="{PACK_TYPE}" id="pack-{match.group(1)}">\n{text}\n</script>'

    return PACK.sub(written, out)
