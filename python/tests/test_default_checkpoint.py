"""The default of make("Synthetic-<id>") never regresses the drop-in (issue
18): this project's checkpoint only where it meets the paper's table in every
cell, the paper's elsewhere, as synthetic_gymnax_swift/defaults.py says and
README's table repeats. Checked by the file each environment was created
from (its path and the `source` in its metadata)."""

import importlib.util
import os
import pathlib
import subprocess

import pytest

import synthetic_gymnax_swift as sgs
from synthetic_gymnax_swift import __main__ as cli
from synthetic_gymnax_swift import checkpoints as ck
from synthetic_gymnax_swift import defaults

REPO = pathlib.Path(__file__).resolve().parents[2]
ROOT = REPO / "Checkpoints"
SYNTHETIC = [name for name in sgs.registered_envs if name.startswith("Synthetic-")]
OURS_SOURCE = "synthetic-gymnax-swift meta-training (SNES)"

needs_paper = pytest.mark.skipif(
    importlib.util.find_spec("synthetic_gymnax") is None,
    reason="the paper's checkpoints need synthetic-gymnax (pip install synthetic-gymnax --no-deps)")


def _real(env_id):
    return env_id[len("Synthetic-"):]


def _loaded(env):
    """The checkpoint file the environment was created from, and its metadata."""
    assert env._checkpoint is not None
    return pathlib.Path(env._checkpoint).resolve(), ck.read_safetensors(env._checkpoint)[1]


@pytest.fixture
def no_paper_package(monkeypatch, tmp_path):
    """synthetic-gymnax as if not installed, and an empty conversion cache."""
    monkeypatch.setenv("SGX_CACHE_DIR", str(tmp_path))

    def missing():
        raise ck.PaperCheckpointsNotInstalled("synthetic-gymnax is not installed (simulated)")

    monkeypatch.setattr(ck, "_package_dir", missing)


def test_the_table_covers_exactly_the_registered_synthetic_ids():
    assert SYNTHETIC, "the native library registers no synthetic id"
    assert sorted(defaults.DEFAULTS) == sorted(_real(name) for name in SYNTHETIC)
    for real, (choice, why) in defaults.DEFAULTS.items():
        assert choice in (defaults.OURS, defaults.PAPER), real
        assert why and "\n" not in why, real


@pytest.mark.parametrize("real", [r for r, (c, _) in defaults.DEFAULTS.items() if c == defaults.OURS])
def test_every_ours_default_has_our_checkpoint(real):
    path = ROOT / real / "checkpoint.safetensors"
    assert path.is_file(), f"defaults.py makes ours the default of Synthetic-{real}, but {path} is missing"
    assert ck.read_safetensors(path)[1]["source"] == OURS_SOURCE


@pytest.mark.parametrize("env_id", SYNTHETIC)
def test_make_picks_what_the_table_says(env_id):
    real = _real(env_id)
    if defaults.default_checkpoint(env_id) == defaults.OURS:
        env, _ = sgs.make(env_id)
        path, meta = _loaded(env)
        assert path == (ROOT / real / "checkpoint.safetensors").resolve()
        assert meta["source"] == OURS_SOURCE
    else:
        if importlib.util.find_spec("synthetic_gymnax") is None:
            pytest.skip("the paper's checkpoint needs synthetic-gymnax (pip install synthetic-gymnax --no-deps)")
        env, _ = sgs.make(env_id)
        path, meta = _loaded(env)
        assert path == pathlib.Path(ck.paper_checkpoint(real)).resolve()
        assert meta["source"] == ck.PAPER_SOURCE
    assert meta["env_id"] == real and env.name == env_id


def test_cartpole_default_is_ours_even_without_the_paper_package(no_paper_package):
    env, _ = sgs.make("Synthetic-CartPole-v1")
    assert _loaded(env)[1]["source"] == OURS_SOURCE


@pytest.mark.parametrize("env_id", ["Synthetic-Pendulum-v1", "Synthetic-MountainCar-v0"])
def test_ours_explicitly(env_id):
    env, _ = sgs.make(env_id, checkpoint="ours")
    path, meta = _loaded(env)
    assert path == (ROOT / _real(env_id) / "checkpoint.safetensors").resolve() and meta["source"] == OURS_SOURCE


@needs_paper
def test_paper_and_a_path_explicitly():
    env, _ = sgs.make("Synthetic-CartPole-v1", checkpoint="paper")
    assert _loaded(env)[1]["source"] == ck.PAPER_SOURCE
    path = ROOT / "Pendulum-v1" / "checkpoint.safetensors"
    env, _ = sgs.make("Synthetic-Pendulum-v1", checkpoint=str(path))
    assert _loaded(env)[0] == path.resolve()


def test_ours_where_we_have_none():
    with pytest.raises(FileNotFoundError, match="no checkpoint of Synthetic-hopper yet.*checkpoint='paper'"):
        sgs.make("Synthetic-hopper", checkpoint="ours")


def test_default_without_the_paper_package_says_how_to_get_it(no_paper_package):
    with pytest.raises(ck.PaperCheckpointsNotInstalled) as info:
        sgs.make("Synthetic-MountainCarContinuous-v0")
    message = str(info.value)
    assert "Synthetic-MountainCarContinuous-v0" in message
    assert "pip install synthetic-gymnax --no-deps" in message
    assert 'checkpoint="ours"' in message
    assert defaults.reason("MountainCarContinuous-v0") in message  # why the default is the paper's
    # An id of which we have none does not send the user to checkpoint="ours".
    with pytest.raises(ck.PaperCheckpointsNotInstalled) as info:
        sgs.make("Synthetic-hopper")
    message = str(info.value)
    assert "Synthetic-hopper" in message and "pip install synthetic-gymnax --no-deps" in message
    assert 'checkpoint="ours"' not in message and "none of its own for Synthetic-hopper" in message
    # Asked for explicitly, the same advice.
    with pytest.raises(ck.PaperCheckpointsNotInstalled, match="Synthetic-CartPole-v1.*pip install synthetic-gymnax"):
        sgs.make("Synthetic-CartPole-v1", checkpoint="paper")
    # VectorEnvironment resolves its default the same way.
    with pytest.raises(ck.PaperCheckpointsNotInstalled, match="Synthetic-MountainCarContinuous-v0"):
        sgs.VectorEnvironment("Synthetic-MountainCarContinuous-v0", num_envs=2)


def test_evaluate_cli_default_is_our_meta_training(capsys):
    """`evaluate` without --checkpoint (or with --checkpoint ours) evaluates
    our Checkpoints/<id>/, whatever make's default; its help says so."""
    assert cli.main(["evaluate", "--env", "Synthetic-hopper", "--checkpoint", "ours",
                     "--config", str(ROOT / "CartPole-v1" / "config.yaml")]) == 2
    assert "no checkpoint of Synthetic-hopper" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "default: ours" in help_text and "unlike make()" in help_text


# -- examples/train_synthetic.sh (the main job) follows the same table ----------------------

@pytest.fixture
def fake_toolchain(tmp_path):
    """`swift` and `sgx` stand-ins: the script's choice of checkpoint is what
    is tested, not the build or the training (which print their arguments)."""
    if subprocess.run(["dpkg", "-s", "libmujoco-dev"], capture_output=True).returncode != 0:
        pytest.skip("the script would apt-get install libmujoco-dev")
    bin_dir, build = tmp_path / "bin", tmp_path / "release"
    bin_dir.mkdir()
    build.mkdir()
    (bin_dir / "swift").write_text(
        f'#!/bin/sh\ncase "$*" in *--show-bin-path*) echo "{build}";; *) echo "Build complete!";; esac\n')
    (build / "sgx").write_text('#!/bin/sh\necho "sgx $*"\n')
    for f in (bin_dir / "swift", build / "sgx"):
        f.chmod(0o755)
    lib = sgs._native.library_path()
    if lib.exists():
        (build / "libsynthetic_gymnax.so").symlink_to(lib)

    def run(*args, checkpoint=None):
        env = {k: v for k, v in os.environ.items() if k != "CHECKPOINT"}
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        if checkpoint is not None:
            env["CHECKPOINT"] = checkpoint
        return subprocess.run(["bash", str(REPO / "examples" / "train_synthetic.sh"), *args],
                              capture_output=True, text=True, env=env, timeout=300)

    return run


def test_main_job_default_is_ours_for_cartpole(fake_toolchain):
    r = fake_toolchain()
    assert r.returncode == 0, r.stderr
    assert "default for Synthetic-CartPole-v1: ours" in r.stdout
    assert ("sgx train --algo ppo --env Synthetic-CartPole-v1 --checkpoint Checkpoints/CartPole-v1/checkpoint.safetensors "
            "--eval-env CartPole-v1") in r.stdout


def test_main_job_overrides(fake_toolchain, tmp_path):
    r = fake_toolchain("Pendulum-v1", "td3", checkpoint="ours")
    assert r.returncode == 0, r.stderr
    assert "--checkpoint Checkpoints/Pendulum-v1/checkpoint.safetensors" in r.stdout and "default for" not in r.stdout
    r = fake_toolchain("Pendulum-v1", "td3", checkpoint=str(tmp_path / "mine.safetensors"))
    assert r.returncode == 0 and f"--checkpoint {tmp_path / 'mine.safetensors'} " in r.stdout
    r = fake_toolchain("hopper", "td3", checkpoint="ours")
    assert r.returncode == 2 and "no checkpoint of Synthetic-hopper" in r.stderr and "CHECKPOINT=paper" in r.stderr


@needs_paper
def test_main_job_default_is_the_papers_for_mountaincarcontinuous(fake_toolchain):
    r = fake_toolchain("MountainCarContinuous-v0", "td3")
    assert r.returncode == 0, r.stderr
    assert "default for Synthetic-MountainCarContinuous-v0: paper" in r.stdout
    assert f"--checkpoint {ck.paper_checkpoint('MountainCarContinuous-v0')} " in r.stdout


def test_main_job_default_is_ours_for_pendulum(fake_toolchain):
    r = fake_toolchain("Pendulum-v1", "td3")
    assert r.returncode == 0, r.stderr
    assert "default for Synthetic-Pendulum-v1: ours" in r.stdout
    assert "--checkpoint Checkpoints/Pendulum-v1/checkpoint.safetensors " in r.stdout


def test_readme_table_says_what_defaults_py_says():
    """README's "id | default of `make` | why" table names every id once,
    with the default make picks."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Our synthetic environments"):]
    rows = section[section.index("| id | default of `make` |"):].split("\n\n")[0].splitlines()[2:]
    said = {}
    for row in rows:
        ids, choice = [cell.strip() for cell in row.strip("|").split("|")][:2]
        for real in ids.split(", "):
            assert real not in said, f"README names {real} twice"
            said[real] = choice
    assert said == {real: choice for real, (choice, _) in defaults.DEFAULTS.items()}
