"""Atomic writes keep readers whole and give files the modes users expect."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from amlas import fileio
from amlas.fileio import (
    OUTPUT_MARKER,
    OutputRefused,
    atomic_write_bytes,
    atomic_write_text,
    atomic_write_tree,
    check_output_folder,
    clean_stale_temps,
    read_output_marker,
    write_output_folder,
)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_a_new_file_is_readable_like_any_other(tmp_path: Path) -> None:
    # found in review: tempfile made every written file (monitor.json, reports) owner-only
    target = tmp_path / "out" / "report.html"
    atomic_write_text(target, "<html></html>")
    assert target.read_text() == "<html></html>"
    assert mode(target) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temp left


@pytest.mark.usefixtures("umask_022")
def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    target.write_text("old\n")
    target.chmod(0o600)
    atomic_write_bytes(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert mode(target) == 0o600


@pytest.mark.usefixtures("umask_022")
def test_a_tree_gets_folder_and_file_modes(tmp_path: Path) -> None:
    target = tmp_path / "safety-case"
    atomic_write_tree(target, {"case.json": "{}", "svg/stage1.svg": b"<svg/>"})
    assert mode(target) == 0o755
    assert mode(target / "case.json") == 0o644
    assert mode(target / "svg" / "stage1.svg") == 0o644
    assert (target / "svg" / "stage1.svg").read_bytes() == b"<svg/>"


def test_a_failed_tree_write_leaves_the_old_tree(tmp_path: Path) -> None:
    target = tmp_path / "safety-case"
    atomic_write_tree(target, {"case.json": "old"})
    with pytest.raises(ValueError, match="leaves the output folder"):
        atomic_write_tree(target, {"case.json": "new", "../escape": "x"})
    assert (target / "case.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["safety-case"]


# -- interrupted writes: a process killed at any step (issue 12) --------------------------------

OLD = {"case.json": "old", "gsn/index.gsn.yaml": "old index", "svg/case.svg": "<svg>old</svg>"}
NEW = {"case.json": "new", "gsn/index.gsn.yaml": "new index", "report.html": "new report"}
# every file-system step the writers take: a kill lands before the k-th of these calls
STEPS = ("replace", "rename", "unlink", "rmdir", "mkdir", "fsync")


def tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def killed_at(k: int, write: Callable[[], None], steps: tuple[str, ...] = STEPS) -> bool:
    """Run ``write`` in a forked child killed with SIGKILL before its k-th file-system
    step (of ``steps``); True when it was killed, False when it finished first."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: never returns to pytest
        try:
            calls = [0]

            def before(function: Callable[..., Any]) -> Callable[..., Any]:
                def step(*args: Any, **kwargs: Any) -> Any:
                    calls[0] += 1
                    if calls[0] == k:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return function(*args, **kwargs)

                return step

            for name in steps:
                setattr(os, name, before(getattr(os, name)))
            if steps == STEPS:
                fileio._exchange = before(fileio._exchange)
            write()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, "the write failed instead of being killed"
    return False


@pytest.fixture(params=["exchange", "two renames"])
def swap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of swapping a folder in: one atomic exchange (Linux), or two renames."""
    if request.param == "exchange":
        probe_a, probe_b = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
        try:
            if not fileio._exchange(probe_a, probe_b):
                pytest.skip("no renameat2(RENAME_EXCHANGE) here")
        finally:
            shutil.rmtree(probe_a)
            shutil.rmtree(probe_b)
    else:
        monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    return str(request.param)


def test_a_kill_at_every_step_of_a_folder_swap_leaves_a_whole_folder(
    tmp_path: Path, swap: str
) -> None:
    target = tmp_path / "safety-case"
    killed = 0
    for k in range(1, 200):
        shutil.rmtree(tmp_path)
        tmp_path.mkdir()
        write_output_folder(target, OLD, command="amlas case", version="1")
        marker_old = tree(target)

        def write() -> None:
            write_output_folder(target, NEW, command="amlas case", version="1")

        if not killed_at(k, write):
            break
        killed += 1
        if swap == "exchange":
            # a complete folder, old or new, is in place at every instant
            now = tree(target)
            assert now == marker_old or {n: c for n, c in now.items() if n != OUTPUT_MARKER} == NEW
        # the next start puts back a folder set aside and clears what the kill left
        clean_stale_temps(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["safety-case"], k
        now = tree(target)
        new = {**NEW, OUTPUT_MARKER: now.get(OUTPUT_MARKER, "")}
        assert now in (marker_old, new), k
        # and a rerun converges: the new folder, no temporaries
        write_output_folder(target, NEW, command="amlas case", version="1")
        assert {n: c for n, c in tree(target).items() if n != OUTPUT_MARKER} == NEW
        assert sorted(p.name for p in tmp_path.iterdir()) == ["safety-case"], k
    else:
        pytest.fail("the write never finished")
    # every mkdir, fsync, rename and clean-up step was a kill point
    assert killed >= 10, killed


def test_a_kill_between_the_two_renames_leaves_the_folder_aside_then_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the defect: old renamed aside, new not yet in: no safety-case/ at all
    monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    target = tmp_path / "safety-case"
    atomic_write_tree(target, OLD)
    renames = 0
    for k in range(1, 100):
        shutil.rmtree(target)
        atomic_write_tree(target, OLD)
        if not killed_at(k, lambda: atomic_write_tree(target, NEW)):
            break
        if not target.exists():
            renames += 1
            # the next start puts the old folder, complete, back in place
            check_output_folder(tmp_path / "unrelated")
            assert not target.exists()
            clean_stale_temps(tmp_path, name="safety-case")
            assert tree(target) == OLD
        clean_stale_temps(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["safety-case"]
    assert renames == 1


def test_a_killed_file_write_leaves_a_temporary_the_next_write_removes(tmp_path: Path) -> None:
    target = tmp_path / "refs.json"
    atomic_write_text(target, "old")
    assert killed_at(1, lambda: atomic_write_text(target, "new"), ("replace",))
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2, left
    assert left[0].startswith(".refs.json.amlas-"), left
    assert target.read_text() == "old"
    atomic_write_text(target, "newer")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refs.json"]


def test_only_stale_temporaries_of_amlas_are_removed(tmp_path: Path) -> None:
    day_ago = time.time() - 2 * fileio.STALE_AFTER
    live = tmp_path / f".refs.json.amlas-{os.getpid()}-abcd1234.tmp"  # a write in flight
    dead = tmp_path / ".refs.json.amlas-999999999-abcd1234.tmp"  # no such process
    legacy_new = tmp_path / ".refs.json.abcd1234.tmp"  # an earlier release's, recent
    legacy_old = tmp_path / ".case.json.abcd1234.tmp"  # an earlier release's, a day old
    user = [tmp_path / ".notes.tmp", tmp_path / "x.amlas-1-a.tmp", tmp_path / ".keep.old"]
    for path in [live, dead, legacy_new, legacy_old, *user]:
        path.write_text("x")
    os.utime(legacy_old, (day_ago, day_ago))
    os.utime(user[0], (day_ago, day_ago))
    assert clean_stale_temps(tmp_path) == sorted([dead, legacy_old])
    assert sorted(tmp_path.iterdir()) == sorted([live, legacy_new, *user])


def test_an_earlier_releases_folder_set_aside_is_put_back(tmp_path: Path) -> None:
    aside = tmp_path / ".safety-case.999999999.old"  # left by the swap of release 0.1.0
    aside.mkdir()
    (aside / "case.json").write_text("old")
    atomic_write_tree(tmp_path / "safety-case", {"case.json": "new"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["safety-case"]
    assert (tmp_path / "safety-case" / "case.json").read_text() == "new"


# -- output folders: replaced only when amlas wrote them (issue 12) -----------------------------


def test_an_output_folder_holding_anything_else_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputRefused, match=r"notes\.txt") as refused:
        write_output_folder(out, {"case.json": "{}"}, command="amlas case", version="1")
    assert refused.value.code == "F011"
    assert tree(out) == {"notes.txt": "mine"}


def test_a_marked_folder_is_replaced_but_not_with_files_amlas_did_not_write(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    write_output_folder(out, {"case.json": "1", "svg/a.svg": "<svg/>"}, command="c", version="1")
    marker = read_output_marker(out)
    assert marker is not None
    assert dict(marker.files) == {"case.json": "c", "svg/a.svg": "c"}
    write_output_folder(out, {"case.json": "2"}, command="c", version="1")
    assert set(tree(out)) == {"case.json", OUTPUT_MARKER}
    (out / "sub").mkdir()
    (out / "sub" / "draft.md").write_text("mine")
    with pytest.raises(OutputRefused, match=r"sub/draft\.md"):
        write_output_folder(out, {"case.json": "3"}, command="c", version="1")
    assert (out / "sub" / "draft.md").read_text() == "mine"


@pytest.mark.parametrize("where", ["project", "ancestor", "data", "inside data"])
def test_an_output_that_is_or_holds_the_project_is_refused(tmp_path: Path, where: str) -> None:
    project = tmp_path / "p"
    (project / "data").mkdir(parents=True)
    (project / "amlas.yaml").write_text("amlas: 1\n")
    out = {
        "project": project,
        "ancestor": tmp_path,
        "data": project / "data",
        "inside data": project / "data" / "out",
    }[where]
    with pytest.raises(OutputRefused) as refused:
        write_output_folder(
            out,
            {"case.json": "{}"},
            command="c",
            version="1",
            project=project,
            protected=[project / "amlas.yaml", project / "data"],
        )
    assert refused.value.code == "F010"
    assert (project / "amlas.yaml").read_text() == "amlas: 1\n"
    assert sorted(p.name for p in project.iterdir()) == ["amlas.yaml", "data"]


def test_a_run_start_clears_the_temporaries_a_killed_run_left_in_the_store(
    tmp_path: Path,
) -> None:
    from amlas.evidence import open_store

    store = tmp_path / "evidence"
    (store / "objects" / "ab").mkdir(parents=True)
    (store / "runs").mkdir()
    dead = [
        store / "objects" / "ab" / (".ab12.json.amlas-999999999-k1ll3d00.tmp"),
        store / "runs" / ".r1.json.amlas-999999999-k1ll3d00.tmp",
        store / ".refs.json.amlas-999999999-k1ll3d00.tmp",
    ]
    live = store / f".refs.json.amlas-{os.getpid()}-1nfl1ght.tmp"
    for path in [*dead, live]:
        path.write_text("{")
    with (
        open_store("fs://evidence", root=tmp_path) as opened,
        opened.begin("r2", role="verifier", stages=[5]),
    ):
        assert not any(path.exists() for path in dead)
        assert live.exists()  # a write in flight is not stale
