"""The assessor's bundle: one archive that proves, offline, that the case follows from the
evidence (``amlas bundle``, ``amlas verify-bundle``; docs/signoff.md).

:func:`write_bundle` puts into one zip archive every artefact of the project, the review
records and the documents they examined, the sign-offs, the current evidence records
(with the verifier's signatures), the access logs of the sealed data (never the data
itself, never a key), the hashes of the data, model and code files it does not hold, the
safety case in every format and the report, and ``MANIFEST.json``: the SHA-256 and size of
every file, signed (``MANIFEST.sig``) by the key of a declared person who bundled it.

:func:`verify_bundle` needs no project, model, data or network: it reads the archive
defensively (no entry outside it, no link, no bomb), checks every hash and signature
(the manifest's, each record's, each sign-off's, the access log's chain), rebuilds the
case from the bundled artefacts and records, and requires it to equal the bundled case.
Its :class:`Verdict` names every file that differs.
"""

from amlas.bundle._archive import LIMITS, ArchiveLimits
from amlas.bundle._verify import Verdict, verify_bundle
from amlas.bundle._write import (
    BUNDLE_MARK,
    Written,
    bundle_files,
    bundled_projects,
    stated_inputs,
    write_bundle,
)

__all__ = [
    "BUNDLE_MARK",
    "LIMITS",
    "ArchiveLimits",
    "Verdict",
    "Written",
    "bundle_files",
    "bundled_projects",
    "stated_inputs",
    "verify_bundle",
    "write_bundle",
]
