"""Issue 10, nothing is lost: real `python -m latentcore extract` processes killed with SIGKILL or
Ctrl-C and resumed, a reader process stopped (SIGSTOP) with or without --reader-timeout (issue 53: the
run ends in one line, exit 2, its .partial kept and no process left), two writers on one output, a full
disk (a real tmpfs) and a write error mid-run (RLIMIT_FSIZE), the prefetch thread, outputs that must not
collide, uploads that must not replace each other."""
import contextlib
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from latentcore import batch
from latentcore.cli import main
from latentcore.data import open_source
from latentcore.errors import INTERRUPTED, InputError, OutputError
from latentcore.extract import extract_file, prefetch
from latentcore.latents import LatentsWriter, read_latents
from latentcore.models import load_model
from latentcore.models.vae import ConvVAE, VAEConfig
from latentcore.outputs import latents_path_for, model_tag
from latentcore.storage import sha256_file, sha256_path
from ui.session.files import claim_name, labelled, safe_name

REPO = Path(__file__).resolve().parents[2]
ROWS, COLUMNS = 75, 80  # 6000 patterns: five read blocks, so a run can be stopped between two of them


def write_scan(path, n_rows=ROWS, n_columns=COLUMNS, seed=0, nan_row=None):
    patterns = np.random.default_rng(seed).integers(0, 255, (n_rows * n_columns, 60, 60), dtype=np.uint8)
    if nan_row is not None:
        patterns = patterns.astype(np.float32)
        patterns[nan_row] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["Scan 1/EBSD/Data/patterns"] = patterns
        for name, value in {"n_rows": n_rows, "n_columns": n_columns, "step_x": 1.5, "step_y": 1.5}.items():
            f[f"Scan 1/EBSD/Header/{name}"] = [value]
    return path


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """A scan, a VAE checkpoint, and the datasets an uninterrupted run writes."""
    folder = tmp_path_factory.mktemp("job")
    scan = write_scan(folder / "scan.h5")
    torch.manual_seed(0)
    checkpoint = folder / "vae.pth"
    torch.save(ConvVAE(VAEConfig(input_size=60, latent_dim=4, channels=(8, 16))).checkpoint(), checkpoint)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(extract_args(scan, checkpoint, folder / "reference")) == 0
    finally:
        torch.set_num_threads(threads)
    name = latents_path_for(scan, model=model_tag("", sha256_file(checkpoint))).name  # what the job writes
    return {"scan": scan, "model": checkpoint, "name": name, "reference": datasets(folder / "reference" / name)}


def extract_args(scan, model, out):
    return ["extract", str(scan), "--model", str(model), "--out", str(out), "--device", "cpu", "--batch-size", "64"]


def datasets(path) -> dict:
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f}


def assert_same_datasets(path, reference):
    found = datasets(path)
    assert sorted(found) == sorted(reference)
    for name, values in reference.items():
        np.testing.assert_array_equal(found[name], values, err_msg=name)


# `python -m latentcore` with a thread that outlives main by a minute: Python's shutdown waits for it, so the
# process is still ending (a moment of a few milliseconds otherwise) when the test's Ctrl-C comes
ENDING_SLOWLY = ["-c", "import runpy, threading, time; threading.Thread(target=time.sleep, args=(60,)).start(); "
                       "runpy.run_module('latentcore', run_name='__main__', alter_sys=True)"]


def start(job, out, preexec_fn=None, extra=(), launch=("-m", "latentcore")):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    args = [*extract_args(job["scan"], job["model"], out), *extra]
    return subprocess.Popen([sys.executable, *launch, *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec_fn)


def run_in_process(job, out) -> int:
    return main(extract_args(job["scan"], job["model"], out))


def wait_for_rows(process, at_least=1, timeout=120) -> bytes:
    """Read the progress bar until `at_least` rows are written (and flushed); returns what was read."""
    seen, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = os.read(process.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
        if max(map(int, re.findall(rb"\b(\d+)/6000\b", seen)), default=0) >= at_least:
            return seen
    raise AssertionError(f"no progress seen: {seen[-500:]!r}")


def finish(process, timeout=120) -> tuple[int, str]:
    _out, err = process.communicate(timeout=timeout)
    return process.returncode, err.decode()


def test_kill_9_mid_run_then_the_same_command_resumes_to_the_uninterrupted_datasets(job, tmp_path,
                                                                                   one_torch_thread):
    process = start(job, tmp_path)
    wait_for_rows(process)
    process.kill()  # SIGKILL: no cleanup of any kind runs
    process.wait()
    final, partial = tmp_path / job["name"], tmp_path / f"{job['name']}.partial"
    assert not final.exists() and partial.exists()
    assert run_in_process(job, tmp_path) == 0  # the same command, resumed
    assert_same_datasets(final, job["reference"])
    assert not partial.exists()


def progress_free_lines(err: str) -> list[str]:
    """stderr's lines but the progress bar's (tqdm redraws it on one line with carriage returns)."""
    return [line for line in err.splitlines() if line.strip() and not re.search(r"\d+/6000 \[", line)]


def wait_for_moment(process, moment: str, out: Path) -> bytes:
    """Return once the run reached `moment`, with what it wrote to stderr meanwhile."""
    seen = b""
    if moment == "loading":  # loading the command's libraries, HDF5's among them
        poll(lambda: b"h5py" in Path(f"/proc/{process.pid}/maps").read_bytes(), process)
    elif moment == "readers starting":
        reader_processes_of(process.pid, 1)
    elif moment == "mid":
        seen = wait_for_rows(process)
    elif moment == "late":  # 95 % of the rows written: the last block, the coordinates, the rename, the exit
        seen = wait_for_rows(process, at_least=5700)
    elif moment == "ending":  # the file renamed: the process is ending
        poll(lambda: any(out.glob("*.h5")), process)
    return seen


def poll(condition, process=None, timeout=120):
    """Wait for `condition` (while `process` runs, when given)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert (process is None or process.poll() is None) and time.monotonic() < deadline, "never came"
        time.sleep(0.002)


PF_EXITING = 0x4  # /proc/PID/stat's flags: the process is in exit_group, past any handler


def ctrl_c(process, to: str) -> bool:
    """Ctrl-C to the run, as a terminal sends it (to its process group) or `kill -INT` (to the process);
    False when the process had already ended or was ending in the kernel (the moment came too late)."""
    try:
        flags = int(Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[6])
    except (OSError, IndexError):
        return False
    if flags & PF_EXITING or os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
        return False
    if to == "group":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    return True


@pytest.mark.parametrize("moment, to", [
    ("loading", "group"), ("readers starting", "group"), ("mid", "group"), ("late", "group"), ("ending", "group"),
    ("mid", "process"), ("late", "process"), ("ending", "process")])
def test_ctrl_c_at_any_moment_exits_130_in_one_line_and_the_same_command_completes(job, tmp_path, one_torch_thread,
                                                                                 moment, to):
    launch = ENDING_SLOWLY if moment == "ending" else ("-m", "latentcore")
    for attempt in range(3):
        out = tmp_path / str(attempt)
        process = start(job, out, preexec_fn=os.setpgrp, extra=["--readers", "2"], launch=launch)
        seen = wait_for_moment(process, moment, out)
        children = reader_children(process.pid)
        if ctrl_c(process, to):
            break
        finish(process)
    else:
        pytest.skip(f"the run ended three times before a Ctrl-C at the moment {moment!r} reached it")
    code, err = finish(process)
    err = seen.decode() + err
    assert code == 130 and "Traceback" not in err, err
    assert progress_free_lines(err) == [INTERRUPTED], err
    partial, final = out / f"{job['name']}.partial", out / job["name"]
    if moment in ("loading", "readers starting"):  # no row written: nothing kept
        assert not partial.exists() and not final.exists()
    elif moment == "mid":
        assert partial.exists() and not final.exists()
    elif moment == "ending":
        assert final.exists() and not partial.exists()
    poll(lambda: all(process_gone(pid) for pid in children), timeout=10)
    assert run_in_process(job, out) == 0  # resumes the .partial, or finds the file complete
    assert_same_datasets(final, job["reference"])
    assert not partial.exists()


@pytest.mark.parametrize("step", ["the done-counters", "the rename"])
def test_ctrl_c_in_the_last_steps_of_the_writer_keeps_a_partial_that_the_same_command_completes(
        job, tmp_path, one_torch_thread, monkeypatch, capsys, step):
    import latentcore.latents

    remove = h5py.AttributeManager.__delitem__

    def ctrl_c(*args):
        raise KeyboardInterrupt

    def remove_then_ctrl_c(attributes, name):  # the rows were checked complete; a first counter goes
        remove(attributes, name)
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        if step == "the rename":
            patched.setattr(latentcore.latents.os, "replace", ctrl_c)
        else:
            patched.setattr(h5py.AttributeManager, "__delitem__", remove_then_ctrl_c)
        assert run_in_process(job, tmp_path) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == INTERRUPTED
    assert (tmp_path / f"{job['name']}.partial").exists() and not (tmp_path / job["name"]).exists()
    assert run_in_process(job, tmp_path) == 0
    assert "6,000 rows already written" in capsys.readouterr().err  # resumed, not started again
    assert_same_datasets(tmp_path / job["name"], job["reference"])


def reader_children(parent: int) -> list[int]:
    """The pids of `parent`'s reader processes now (multiprocessing's spawned children, not its
    resource tracker), oldest first, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)"
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == parent and b"spawn_main" in cmdline:
            found.append((int(fields[19]), int(stat.parent.name)))  # (start time, pid)
    return [pid for _, pid in sorted(found)]


def reader_processes_of(parent: int, count: int, timeout=60) -> list[int]:
    """`reader_children(parent)` as soon as `count` of them have started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(found := reader_children(parent)) >= count:
            return found
        time.sleep(0.01)
    raise AssertionError(f"process {parent} did not start {count} reader processes")


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # ended, waiting to be reaped by init; "T" would be the stopped process, leaked


def children_of(parent: int) -> list[int]:
    """Every child process of `parent` now: its readers and multiprocessing's resource tracker."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue  # ended meanwhile
    return found


def shared_memory_of(pids) -> set[str]:
    """The /dev/shm files (named semaphores, shared memory) that these processes map now, by name."""
    names = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
                if " /dev/shm/" in line:
                    names.add(line.split(" /dev/shm/", 1)[1].removesuffix(" (deleted)"))
    return names


@pytest.mark.parametrize("killed", ["a reader", "the run", "the run and its helpers"])
def test_a_killed_run_leaves_no_semaphore_shared_memory_or_process_behind(job, tmp_path, one_torch_thread, killed):
    """SIGKILL (nothing of the killed process cleans up) of one reader process, of the run itself (its
    readers are left), or of the run, its readers and multiprocessing's resource tracker at once."""
    process = start(job, tmp_path, extra=["--readers", "2"])
    if killed == "a reader":
        reader_processes_of(process.pid, 2)  # the second one still starting: every block of its is to come
    else:
        wait_for_rows(process, at_least=2 * 1152)  # a block from each reader: both are reading
    helpers, readers = children_of(process.pid), reader_children(process.pid)
    mapped = shared_memory_of([process.pid, *helpers])
    assert len(readers) == 2 and mapped  # the slots the blocks come through, at least
    try:
        targets = {"a reader": readers[1:], "the run": [process.pid],
                   "the run and its helpers": [process.pid, *helpers]}[killed]
        for pid in targets:
            os.kill(pid, signal.SIGKILL)
        code, err = finish(process, timeout=60)
        assert code == (2 if killed == "a reader" else -9)
        poll(lambda: all(process_gone(pid) for pid in helpers), timeout=30)  # readers end with their run
        assert not [name for name in mapped if (Path("/dev/shm") / name).exists()]
    finally:  # what a failing run left must not outlive the test
        for pid in helpers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for name in mapped:
            (Path("/dev/shm") / name).unlink(missing_ok=True)


# `python -m latentcore` with the reader timeout's default (`data.parallel.READER_TIMEOUT`, 300 s) at 3 s
SHORT_DEFAULT_TIMEOUT = ["-c", "import runpy, latentcore.data.parallel as p; p.READER_TIMEOUT = 3.0; "
                               "runpy.run_module('latentcore', run_name='__main__', alter_sys=True)"]


def run_with_a_stopped_reader(job, out, extra=(), launch=("-m", "latentcore")) -> tuple[int, list[str], list[int]]:
    """`extract --readers 2` whose second reader (blocks 2, 4, ...) is stopped (SIGSTOP) while still starting, so
    block 1 comes from the first: (exit code, stderr's lines but the progress bar, every child the run had: its
    readers and multiprocessing's resource tracker)."""
    process = start(job, out, extra=["--readers", "2", *extra], launch=launch)
    stalled = reader_processes_of(process.pid, 2)[1]
    children = children_of(process.pid)
    os.kill(stalled, signal.SIGSTOP)
    try:
        code, err = finish(process, timeout=60)
    finally:  # a run that hangs must not outlive the test
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = [line for line in err.splitlines() if line.strip() and not re.search(r"\d+/6000 \[", line)]  # no bar
    return code, lines, children


def assert_ended(children: list[int]):
    """Every one of `children` ends within seconds of its run (the stalled reader killed by it, the others on
    their own); those left are killed, never left to the next test."""
    try:
        poll(lambda: all(process_gone(pid) for pid in children), timeout=10)
    finally:
        for pid in children:
            with contextlib.suppress(OSError):
                if not process_gone(pid):
                    os.kill(pid, signal.SIGKILL)


def test_a_stalled_reader_process_ends_the_run_in_one_line_and_the_rerun_resumes(job, tmp_path, capsys,
                                                                                 one_torch_thread):
    inputs = {path: sha256_path(path) for path in (job["scan"], job["model"])}
    code, lines, children = run_with_a_stopped_reader(job, tmp_path, extra=["--reader-timeout", "3"])
    assert_ended(children)  # the stopped reader too: the run killed it
    assert code == 2 and not any("Traceback" in line for line in lines)
    assert len(lines) == 1 and lines[0].startswith(f"error: {job['scan']}: reader process 2 of 2 handed nothing back "
                                                   "for 3 s"), lines
    partial = tmp_path / f"{job['name']}.partial"
    with h5py.File(partial, "r") as f:  # the rows before the stalled block are kept
        kept = int(f["all"].attrs["rows_done"])
        assert 0 < kept < 6000
        np.testing.assert_array_equal(f["all"][:kept], job["reference"]["all"][:kept])
    assert re.search(rf"block \d+ \(rows {kept}-\d+ of 'all'\)", lines[0]), lines[0]  # the block that stalled
    assert "with a longer --reader-timeout" in lines[0]  # what to do next
    capsys.readouterr()
    assert main(extract_args(job["scan"], job["model"], tmp_path) + ["--readers", "2"]) == 0  # no stall now
    assert f"{kept:,} rows already written" in capsys.readouterr().err  # resumed, not started again
    assert_same_datasets(tmp_path / job["name"], job["reference"])
    assert not partial.exists()
    assert {path: sha256_path(path) for path in inputs} == inputs


def test_a_stalled_reader_ends_a_run_given_no_reader_timeout(job, tmp_path, one_torch_thread):
    """Issue 53: a run without --reader-timeout waited for ever on a stopped reader. Its default is finite (the
    run's own, set to 3 s here: see test_the_reader_timeouts_default_is_finite_and_said_in_help)."""
    code, lines, children = run_with_a_stopped_reader(job, tmp_path, launch=SHORT_DEFAULT_TIMEOUT)
    assert_ended(children)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {job['scan']}: reader process 2 of 2 handed nothing back for 3 s"), lines
    assert "--reader-timeout" in lines[0]
    assert (tmp_path / f"{job['name']}.partial").exists() and not (tmp_path / job["name"]).exists()  # to resume


@pytest.mark.parametrize("command", ["extract", "batch"])
def test_the_reader_timeouts_default_is_finite_and_said_in_help(command, capsys):
    from latentcore.data.parallel import READER_TIMEOUT, check_reader_timeout

    assert 0 < READER_TIMEOUT < float("inf") and check_reader_timeout(None) == READER_TIMEOUT  # what None means
    with pytest.raises(SystemExit):
        main([command, "--help"])
    said = " ".join(capsys.readouterr().out.split())  # argparse wraps its lines
    option = said.split("--reader-timeout SECONDS end the run", 1)[1].split(" --", 1)[0]  # up to the next option
    assert f"(default: {READER_TIMEOUT:g})" in option, option


def test_a_second_writer_is_refused_and_never_touches_the_first_writers_file(job, tmp_path, capsys,
                                                                             one_torch_thread):
    first = LatentsWriter(tmp_path / job["name"], {"all": (6000, 4)}, {"writer": "first"})
    first.write_rows("all", 0, np.ones((100, 4), np.float32))
    partial = first.tmp_path
    before = (partial.stat().st_ino, partial.read_bytes())
    capsys.readouterr()
    assert run_in_process(job, tmp_path) == 2  # flock: a second open file, refused as another process is
    err = capsys.readouterr().err
    assert "another run is writing this output" in err and str(partial) in err and len(err.splitlines()) == 1
    assert (partial.stat().st_ino, partial.read_bytes()) == before
    assert not (tmp_path / job["name"]).exists()
    first.close()  # the first writer stops; its partial belongs to another job: the next run starts afresh
    assert run_in_process(job, tmp_path) == 0
    assert_same_datasets(tmp_path / job["name"], job["reference"])


def test_two_concurrent_writers_publish_only_a_complete_correct_file(job, tmp_path):
    processes = [start(job, tmp_path), start(job, tmp_path)]
    results = [finish(p) for p in processes]
    codes = sorted(code for code, _ in results)
    # one writes; the other is refused while it runs (2) or finds it complete and skips it (0)
    assert codes in ([0, 0], [0, 2]), results
    if codes == [0, 2]:
        assert any("another run is writing" in err for _, err in results)
    assert_same_datasets(tmp_path / job["name"], job["reference"])
    assert not list(tmp_path.glob("*.partial"))


def test_a_full_disk_on_a_real_tmpfs_ends_in_one_line_within_seconds(job, tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        started = time.monotonic()
        code, err = finish(start(job, mount), timeout=180)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and "not enough space" in lines[0] and str(mount) in lines[0]
        assert time.monotonic() - started < 180
        assert not list(mount.iterdir())  # nothing was written: no .partial left
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def limit_file_size():
    """An OS-level write error mid-run: files beyond 150 kB fail with EFBIG (SIGXFSZ ignored). The
    6000 x 4 latents fit (96 kB); the coordinates written after them do not."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))


def test_a_write_error_mid_run_ends_in_one_line_and_the_rerun_completes(job, tmp_path, one_torch_thread):
    code, err = finish(start(job, tmp_path, preexec_fn=limit_file_size))
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith(f"{job['name']}.partial: cannot write: file too large; choose "
                                                 "another place to write")
    assert not (tmp_path / job["name"]).exists() and (tmp_path / f"{job['name']}.partial").exists()
    assert run_in_process(job, tmp_path) == 0
    assert_same_datasets(tmp_path / job["name"], job["reference"])


def test_the_prefetch_thread_ends_when_the_consumer_stops_early():
    before = set(threading.enumerate())
    items = prefetch(iter([1, 2]), depth=1)
    assert next(items) == 1
    time.sleep(0.3)  # the producer has queued 2 and, with the queue full, is handing over its end marker
    closer = threading.Thread(target=items.close)
    closer.start()
    closer.join(5)
    assert not closer.is_alive()  # it used to wait for ever in items.put(done)
    assert not [t for t in set(threading.enumerate()) - before if t.name == "latentcore-prefetch"]


def test_an_existing_file_counts_as_done_only_when_it_is_this_jobs_complete_result(job, tmp_path, one_torch_thread):
    model = load_model(job["model"])
    small = write_scan(tmp_path / "a" / "x.h5", 4, 5)
    other = write_scan(tmp_path / "b" / "x.h5", 4, 5, seed=1)
    out = tmp_path / "out"
    first = extract_file(small, model, out, device="cpu")
    assert extract_file(small, model, out, device="cpu").skipped
    with pytest.raises(InputError, match="holds the latents of another source"):  # same name, other content
        extract_file(other, model, out, device="cpu")
    with h5py.File(first.path, "a") as f:
        f["all"].attrs["rows_done"] = 3  # as an interrupted older version left it
    with pytest.raises(InputError, match="unfinished"):
        extract_file(small, model, out, device="cpu")
    with pytest.raises(InputError, match="unfinished"):
        read_latents(first.path)
    assert not extract_file(small, model, out, device="cpu", clobber=True).skipped
    # one batch, two inputs for one output name: refused before any work
    job_ = batch.BatchJob(model=str(job["model"]), out=str(out), device="cpu")
    with pytest.raises(InputError, match="same latents file"):
        batch.run_batch([str(small), str(other)], job_)


def test_an_error_before_the_first_row_leaves_no_partial(job, tmp_path, one_torch_thread):
    model = load_model(job["model"])
    broken = write_scan(tmp_path / "nan.h5", 4, 5, nan_row=0)  # found by the first read, after the .partial exists
    with pytest.raises(InputError, match="NaN"):
        extract_file(broken, model, tmp_path / "out", device="cpu")
    assert not list((tmp_path / "out").iterdir())
    taken = latents_path_for(broken, tmp_path / "out", model=model_tag("", model.sha256)).name + ".partial"
    (tmp_path / "out" / taken).mkdir()  # the output name is taken by a folder
    with pytest.raises(OutputError, match=re.escape(taken)):
        extract_file(broken, model, tmp_path / "out", device="cpu")


def test_an_image_folder_of_16_bit_tiffs_is_hashed_and_extracted(job, tmp_path, one_torch_thread):
    folder = tmp_path / "images"
    folder.mkdir()
    pixels = np.random.default_rng(4).integers(0, 65535, (3, 64, 64)).astype(np.uint16)
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"im{i}.tif")
    with open_source(folder) as reader:
        np.testing.assert_array_equal(reader.read("all", 0, 3)[:, 0], pixels.astype(np.float32))
    result = extract_file(folder, load_model(job["model"]), tmp_path / "out", device="cpu")
    latents = read_latents(result.path)
    assert latents.partitions["all"].shape == (3, 4)
    assert latents.attrs["source_sha256"] == sha256_path(folder) != sha256_path(folder / "im0.tif")


def test_uploads_with_colliding_or_long_names_get_distinct_names(tmp_path):
    names = [safe_name("a b.h5"), safe_name("a_b.h5"), safe_name("a?b.h5")]
    assert names == ["a_b.h5"] * 3
    paths = [claim_name(tmp_path, name) for name in names]
    assert [p.name for p in paths] == ["a_b.h5", "a_b-2.h5", "a_b-3.h5"]
    long = [safe_name("x" * 300 + ".h5"), safe_name("x" * 299 + "y.h5")]
    assert len(set(long)) == 2 and all(len(n) <= 150 and n.endswith(".h5") for n in long)
    assert claim_name(tmp_path, long[0]).exists()
    assert list(labelled([tmp_path / "p" / "x.h5", tmp_path / "q" / "x.h5"])) == ["x.h5", "x.h5 (2)"]
