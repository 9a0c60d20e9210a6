"""What changed in the project since a git revision, as the input names records cite.

:func:`changed_inputs` answers ``amlas impact --since REV``: the files under the project
that differ between REV and the working tree (``git diff --name-only REV`` plus untracked
files not ignored), mapped to the inputs evidence records cite (the table is in
:mod:`amlas.verify._impact`).
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import subprocess
import tarfile
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from amlas.errors import ProblemError, ProjectNotFoundError, UsageError
from amlas.evidence import (
    MODEL_SETTINGS,
    ProjectInputs,
    StoreError,
    canonical_hash,
    model_code_file,
    model_settings,
    module_file,
    open_store,
)
from amlas.project import MANIFEST_FILE, Project, load_project
from amlas.project.artefacts import ErroneousBehaviourLog, ModelReference, OperationalScenarios

__all__ = ["Changes", "changed_inputs", "revision_tree"]

_CACHE_DIR: Final = ".amlas"  # amlas.project's content-hash cache
_YAML: Final = (".yaml", ".yml")


def _git(root: Path, *args: str) -> bytes:
    """Run git in ``root``; raise a UsageError carrying git's message when it fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, check=False, timeout=120
        )
    except FileNotFoundError as exc:
        raise ProblemError(
            "--since needs git, which is not installed or not on PATH", code="R002"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ProblemError(
            f"git {' '.join(args[:2])} in {root} took over 120 s", code="R002"
        ) from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ProblemError(
            f"git {args[0]} failed in {root}: {message[-1] if message else '?'}", code="R002"
        )
    return done.stdout


def _names(output: bytes) -> list[str]:
    return [name for name in output.decode("utf-8", "surrogateescape").split("\0") if name]


def _check_revision(root: Path, since: str) -> None:
    try:
        _git(root, "rev-parse", "--show-prefix")
    except UsageError as exc:
        raise ProblemError(
            f"{root} is not inside a git repository, so --since {since} cannot be answered; "
            "run 'amlas impact' without --since to compare the evidence with the project "
            "as it is now",
            code="R002",
        ) from exc
    if not since or since.startswith("-"):
        raise ProblemError(
            f"--since {since!r} is not a git revision (e.g. HEAD~1, a tag, a hash)", code="R002"
        )
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}")
    except UsageError as exc:
        raise ProblemError(
            f"--since {since!r} names no commit of the git repository at {root}; "
            "give a commit, branch or tag (e.g. HEAD~1, main, v1.0)",
            code="R002",
        ) from exc


_LFS: Final = b"version https://git-lfs.github.com/spec/v1"


@contextlib.contextmanager
def revision_tree(root: Path, since: str) -> Iterator[tuple[Path, str]]:
    """The files under ``root`` as git holds them at ``since``, exported with ``git
    archive`` (``export-ignore`` and ``export-subst`` apply) into a temporary folder that
    is removed afterwards, and the commit's short hash. Git LFS pointer files are left out:
    they stand for files git does not hold. Raises :class:`~amlas.errors.ProblemError`
    (R002): no git, no repository, no such revision, or nothing under ``root`` at it."""
    _check_revision(root, since)
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}")
    commit_id = commit.decode().strip()
    top = Path(_git(root, "rev-parse", "--show-toplevel").decode().strip())
    relative = root.resolve().relative_to(top.resolve()).as_posix()
    paths = [relative] if relative not in ("", ".") else []
    if not _names(_git(top, "ls-tree", "-z", "--name-only", commit_id, "--", *paths)):
        raise ProblemError(
            f"{root} is not in git at {since} ({commit_id[:12]})", code="R002", path=str(root)
        )
    archive = _git(top, "archive", "--format=tar", commit_id, "--", *paths)
    with tempfile.TemporaryDirectory(prefix="amlas-revision-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        folder = Path(tmp) / relative if paths else Path(tmp)
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_size < 1024:
                with path.open("rb") as handle:
                    pointer = handle.read(len(_LFS)) == _LFS
                if pointer:
                    path.unlink()
        yield folder, commit_id[:12]


def _changed_files(root: Path, since: str, uri: str) -> list[str]:
    """Project-relative files that differ between ``since`` and the working tree, less
    those amlas writes itself (the hash cache, an ``fs://`` store inside the project)."""
    diff = _git(root, "diff", "--name-only", "--no-renames", "--relative", "-z", since, "--")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", ".")
    store = _store_folder(uri)
    return sorted(
        path
        for path in set(_names(diff)) | set(_names(untracked))
        if not _under(path, _CACHE_DIR) and not (store is not None and _under(path, store))
    )


def _project_at(root: Path, since: str, into: Path) -> Project | None:
    """The project's YAML files at ``since``, unpacked into ``into`` and loaded (no data or
    model files: only the artefacts' content is compared); None when there was none."""
    listed = _names(_git(root, "ls-tree", "-r", "-z", "--name-only", since, "--", "."))
    wanted = [name for name in listed if name.endswith(_YAML)]
    if not wanted:
        return None
    archive = _git(root, "archive", "--format=tar", since, "--", *wanted)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    try:
        return load_project(into).project
    except ProjectNotFoundError:
        return None


def _under(path: str, location: str | None) -> bool:
    if not location:
        return False
    base = posixpath.normpath(location)
    return path == base or path.startswith(base.rstrip("/") + "/")


def _store_folder(uri: str) -> str | None:
    """The project-relative folder of an ``fs://`` store inside the project, if any."""
    if not uri.startswith("fs://"):
        return None
    rest = uri.removeprefix("fs://") or "evidence"
    return None if rest.startswith("/") else posixpath.normpath(rest)


def _item_changes(now: Project, before: Project | None) -> set[str]:
    """``requirement:ID`` of every [H] or [L] item whose canonical JSON differs at REV."""
    current = ProjectInputs(now)
    previous = ProjectInputs(before) if before is not None else None
    ids: set[str] = set()
    for project in (now, before):
        if project is None:
            continue
        for document in (project.ml_requirements, project.data_requirements):
            if document is not None:
                ids |= {item.id for item in document.requirements}
    out = set()
    for item in ids:
        name = f"requirement:{item}"
        was = previous.current(name) if previous is not None else None
        if current.current(name) != was:
            out.add(name)
    return out


def _artefact_changes(now: Project, before: Project | None, letter: str) -> set[str]:
    """The inputs a change to the file of artefact ``letter`` touches."""
    out = set()
    if letter in ("H", "L"):
        out |= _item_changes(now, before)
    elif letter == "B":
        was = before.environment if before is not None else None
        if canonical_hash(now.environment) != canonical_hash(was):
            out.add("environment")
    elif letter in ("N", "O", "P"):
        out.add(f"dataset:{letter}")
    elif letter == "V":
        out.add("model")
        settings = model_settings(before) if before is not None else None
        if model_settings(now) != settings:  # a new threshold, format, class order ...
            out.add(MODEL_SETTINGS)
    # stage-6 records cite whole artefacts ([A], [C], [EE]) by their canonical JSON
    was_doc = before.artefacts.get(letter) if before is not None else None
    now_doc = now.artefacts.get(letter)
    if canonical_hash(now_doc) != canonical_hash(was_doc):
        out.add(f"artefact:{letter}")
    return out


def _manifest_changes(now: Project, before: Project | None) -> set[str]:
    """The inputs a change to amlas.yaml touches: the default confidence, when it differs
    (only the records that used it cite it)."""
    name = "defaults:confidence"
    was = ProjectInputs(before).current(name) if before is not None else None
    return {name} if ProjectInputs(now).current(name) != was else set()


def _imported_files(project: Project, uri: str) -> set[str]:
    """The project files current imported records rest on (their ``import:PATH`` inputs);
    a store that cannot be read is the impact analysis's to report."""
    found: set[str] = set()
    with contextlib.suppress(StoreError), open_store(uri, root=project.root) as store:
        for _, digest in store.list():
            with contextlib.suppress(StoreError):
                record = store.get(digest)
                if record.origin == "external":
                    found |= {
                        n.removeprefix("import:") for n in record.inputs if n.startswith("import:")
                    }
    return found


def _map_changes(
    project: Project, before: Project | None, files: list[str], imported: Collection[str] = ()
) -> tuple[set[str], set[str], list[str]]:
    """Changed files -> (changed inputs, changed artefact letters, other changed files)."""
    sources = [p for p in (before, project) if p is not None]
    artefact_files = {
        posixpath.normpath(path): letter for p in sources for letter, path in p.files.items()
    }
    owners: list[tuple[str, str]] = []  # (project-relative file or folder, input name)
    for p in sources:
        for x, document in p.datasets().items():
            owners.append((document.location, f"dataset:{x}"))
            if document.sealed is not None:
                owners.append((document.sealed.file, f"dataset:{x}"))
        reference = p.get("V", ModelReference)
        if reference is not None and reference.location:
            owners.append((reference.location, "model"))
        scenarios = p.get("EE", OperationalScenarios)
        if scenarios is not None and scenarios.harness:
            harness = module_file(p.root, scenarios.harness)
            if harness is not None:
                owners.append((harness.relative_to(p.root).as_posix(), "harness_code"))
        log = p.get("DD", ErroneousBehaviourLog)
        if log is not None and log.field_log is not None:
            owners.append((log.field_log.path, "field_log"))
            owners.append((log.field_log.path, f"field_log:{log.field_log.path}"))
        if log is not None and log.monitor is not None:
            owners.append((log.monitor.file, "monitor"))
        if p.data_requirements is not None:  # the audit file of a label_error_rate rule
            for requirement in p.data_requirements.requirements:
                audit = getattr(requirement.rule, "audit_file", None)
                if audit is not None:
                    owners.append((posixpath.normpath(audit), f"file:{audit}"))
    code = model_code_file(project)
    if code is not None:
        owners.append((code.relative_to(project.root).as_posix(), "model_code"))
    owners += [(path, f"import:{path}") for path in sorted(imported)]
    inputs: set[str] = set()
    letters: set[str] = set()
    other: list[str] = []
    for path in files:
        hits = {name for location, name in owners if _under(path, location)}
        if path.endswith(".py"):  # a module the stage-6 harness loaded (harness_code:<path>)
            hits.add(f"harness_code:{posixpath.normpath(path)}")
        letter = artefact_files.get(posixpath.normpath(path))
        if posixpath.normpath(path) == MANIFEST_FILE:
            hits |= _manifest_changes(project, before)
        if letter is not None:
            letters.add(letter)
            hits |= _artefact_changes(project, before, letter)
        elif not hits:
            other.append(path)
        inputs |= hits
    return inputs, letters, other


@dataclass(frozen=True)
class Changes:
    """What differs since a revision: files, the artefacts among them, the inputs they
    touch, and the files that are none of those."""

    files: list[str]
    inputs: set[str]
    artefacts: set[str]
    other: list[str]


def changed_inputs(project: Project, since: str, uri: str) -> Changes:
    """The changes of the working tree of ``project`` since git revision ``since``
    (``uri``: the evidence store, whose own files do not count). Raises
    :class:`UsageError` outside a git repository or for a revision git does not know."""
    _check_revision(project.root, since)
    files = _changed_files(project.root, since, uri)
    imported = _imported_files(project, uri)
    with tempfile.TemporaryDirectory(prefix="amlas-impact-") as tmp:
        before = _project_at(project.root, since, Path(tmp))
        inputs, letters, other = _map_changes(project, before, files, imported)
    return Changes(files, inputs, letters, other)
