"""Meta-learning through Python: the CLI (`python -m synthetic_gymnax_swift
metalearn / evaluate`) end to end on a tiny config, Ctrl-C and resume, the
JSON and plot it writes, clean errors; and the API (sgs.metalearn,
sgs.evaluate_transfer) it is built on.

The config is tiny (popsize 4, PPO and DQN for 500 steps, 4 evaluation
episodes): a generation takes a fraction of a second.
"""

import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import synthetic_gymnax_swift as sgs
from meta_configs import ppo_inner_config
from synthetic_gymnax_swift import metalearning

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = """\
env_name: CartPole-v1
seed_id: 1
inner_loop_algorithm: [ppo, dqn]
inner_config:
""" + ppo_inner_config(500) + """\
  dqn:
    agent: DuelingQNetwork
    agent_kwargs: {activation: tanh}
    num_envs: 10
    buffer_size: 2000
    fill_buffer: 200
    batch_size: 32
    total_timesteps: 500
    learning_rate: [0.005, 0.001]
    target_update_freq: 50
eval_config: {num_eval_envs: 4, init_value: 200, end_value: 200, transition_begin: 0, transition_steps: 1}
meta_config: {num_generations: GENERATIONS, num_rollouts: 1, num_rollouts_mean: 2, mean_eval_freq: 1}
strategy_name: SNES
strategy_params: {popsize: 4, sigma_init: 0.05, temperature: 0}
synth_env_kwargs: {max_steps_in_episode: 1, network_kwargs: {features: [8], latent_dist: normal}}
"""

try:
    import matplotlib  # noqa: F401

    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False


def tiny_config(tmp_path, generations=2, name="tiny.yaml"):
    path = tmp_path / name
    path.write_text(TINY.replace("GENERATIONS", str(generations)))
    return str(path)


def cli(*args, **kwargs):
    """Runs `python -m synthetic_gymnax_swift ARGS` with this checkout's
    package and the library of SGX_LIB (as the environment gives it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_DIR + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "synthetic_gymnax_swift", *args], capture_output=True, text=True,
                          env=env, timeout=300, **kwargs)


def generations_of(rows):
    return [r["num_gens"] for r in rows]


def timeless(rows):
    return [{k: v for k, v in r.items() if k != "time_gen"} for r in rows]


def test_metalearn_cli_end_to_end(tmp_path):
    config, out = tiny_config(tmp_path), tmp_path / "run"
    r = cli("metalearn", "--config", config, "--out", str(out), "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    summary = [line for line in r.stdout.splitlines() if line.startswith("gen ")]
    assert len(summary) == 2 and "best" in summary[0] and "population" in summary[0] and "| mean" in summary[0]
    for name in ["state.json", "log.csv", "mean.safetensors", "best_member.safetensors", "best_mean.safetensors"]:
        assert (out / name).is_file(), name
    rows = metalearning.read_log(out)
    assert generations_of(rows) == [1, 2]
    assert rows[0]["final_return/ppo"] > 0 and rows[1]["final_return/dqn"] > 0  # algorithms alternate
    assert all(r["mean_final_return/ppo"] > 0 and r["mean_final_return/dqn"] > 0 for r in rows)
    if HAVE_MATPLOTLIB:
        assert (out / "learning_curve.png").stat().st_size > 1000
        assert "learning curve:" in r.stdout
    else:
        assert "matplotlib" in r.stderr
    # The checkpoint is a synthetic CartPole of our format.
    env, _ = sgs.make("Synthetic-CartPole-v1", checkpoint=str(out / "best_mean.safetensors"))
    assert env.name == "Synthetic-CartPole-v1"
    # Run again: nothing to do.
    again = cli("metalearn", "--config", config, "--out", str(out))
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_ctrl_c_stops_after_the_generation_and_the_run_resumes(tmp_path):
    config, out = tiny_config(tmp_path, generations=40), tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, "-m", "synthetic_gymnax_swift", "metalearn", "--config", config,
                          "--out", str(out), "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    first = p.stdout.readline()
    assert first.startswith("gen    1"), first + p.stderr.read()
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stderr
    assert "Traceback" not in stderr and "run the same command to resume" in stderr
    stopped = metalearning.read_log(out)
    assert 1 <= len(stopped) < 40 and generations_of(stopped) == list(range(1, len(stopped) + 1))
    # Resume to a few generations more; the log continues, and equals a straight run's.
    target = len(stopped) + 2
    r = cli("metalearn", "--config", config, "--out", str(out), "--generations", str(target))
    assert r.returncode == 0, r.stderr
    assert f"resuming {out} after generation {len(stopped)}" in r.stdout
    assert [line.split()[1] for line in r.stdout.splitlines() if line.startswith("gen ")] == \
        [str(g) for g in range(len(stopped) + 1, target + 1)]
    resumed = metalearning.read_log(out)
    assert generations_of(resumed) == list(range(1, target + 1))
    assert timeless(resumed[:len(stopped)]) == timeless(stopped)
    straight = sgs.metalearn(config, tmp_path / "straight", generations=target, workers=2)
    assert timeless(resumed) == timeless(straight)


def test_metalearn_api_progress_and_stop(tmp_path):
    config = tiny_config(tmp_path, generations=3)
    seen = []

    def progress(p):
        seen.append(p)
        return not (p.phase == "done" and p.generation == 2)  # stop after the second generation

    rows = sgs.metalearn(config, tmp_path / "run", workers=2, progress=progress)
    assert generations_of(rows) == [1, 2]
    done = [p for p in seen if p.phase == "done"]
    assert [p.generation for p in done] == [1, 2] and all(p.generations == 3 for p in seen)
    assert all(math.isfinite(p.best_fitness) and math.isfinite(p.mean_fitness) and p.seconds > 0 for p in done)
    assert done[-1].best_fitness == pytest.approx(rows[-1]["best_fitness"])
    assert all(math.isnan(p.best_fitness) and p.phase in ("population", "mean") for p in seen if p.phase != "done")
    # An exception in the callback stops the run and comes out as itself.
    with pytest.raises(ZeroDivisionError):
        sgs.metalearn(config, tmp_path / "run", progress=lambda p: 1 / 0)
    assert len(sgs.metalearn(config, tmp_path / "run")) == 3
    with pytest.raises(ValueError, match="workers"):
        sgs.metalearn(config, tmp_path / "run", workers=0)


def test_evaluate_cli_table_and_json(tmp_path):
    config, out = tiny_config(tmp_path), tmp_path / "run"
    sgs.metalearn(config, out, workers=2)
    checkpoint = str(out / "best_mean.safetensors")
    js = tmp_path / "results.json"
    r = cli("evaluate", "--env", "Synthetic-CartPole-v1", "--checkpoint", checkpoint, "--config", config,
            "--algos", "ppo,dqn", "--runs", "4", "--episodes", "2", "--seed", "3", "--json", str(js))
    assert r.returncode == 0, r.stderr
    table = r.stdout.splitlines()
    header = next(line for line in table if line.startswith("algorithm"))
    assert header.split() == ["algorithm", "IQM", "mean", "min", "max", "failed", "runs"]
    assert any(line.startswith("ppo ") for line in table) and any(line.startswith("dqn ") for line in table)
    data = json.loads(js.read_text())
    assert set(data) == {"ppo", "dqn"}
    for name, entry in data.items():
        assert len(entry["returns"]) == 4 and entry["failed_runs"] == 0
        finite = sorted(entry["returns"])
        assert entry["iqm"] == pytest.approx(sum(finite[1:3]) / 2, rel=1e-5)  # trim_mean(x, 0.25) of 4 values
        assert entry["mean"] == pytest.approx(sum(finite) / 4, rel=1e-5)
        assert entry["min"] == finite[0] and entry["max"] == finite[-1]
    # The API gives the same numbers (same seed), whatever the workers; default algorithms: the config's.
    api = sgs.evaluate_transfer(checkpoint, config, runs=4, episodes=2, seed=3, workers=1)
    assert list(api) == ["ppo", "dqn"]
    assert api["ppo"]["returns"] == pytest.approx(data["ppo"]["returns"])
    assert api["dqn"]["iqm"] == pytest.approx(data["dqn"]["iqm"])
    # Each run's sampled hyperparameters (sgx_transfer_hyperparameters), the same in the JSON and the API:
    # values from the config's lists, as text, and another seed samples others.
    assert api["ppo"]["hyperparameters"] == data["ppo"]["hyperparameters"]
    assert len(data["ppo"]["hyperparameters"]) == 4 and len(data["dqn"]["hyperparameters"]) == 4
    for run in data["ppo"]["hyperparameters"]:
        assert run["learning_rate"] in ("0.01", "0.005") and run["gamma"] in ("0.99", "0.95"), run
        assert run["num_steps"] == "50" and run["total_timesteps"] == "500", run
    other = sgs.evaluate_transfer(checkpoint, config, algorithms="ppo", runs=4, episodes=2, seed=4, workers=1)
    assert [other["ppo"]["hyperparameters"], other["ppo"]["returns"]] != [api["ppo"]["hyperparameters"],
                                                                          api["ppo"]["returns"]]
    # Without --env the checkpoint names its environment (as sgx evaluate did before issue 22).
    r = cli("evaluate", "--checkpoint", checkpoint, "--config", config, "--algos", "ppo", "--runs", "4",
            "--episodes", "2", "--seed", "3", "--json", str(js))
    assert r.returncode == 0, r.stderr
    assert "Synthetic-CartPole-v1 -> CartPole-v1" in r.stdout
    assert json.loads(js.read_text())["ppo"]["returns"] == data["ppo"]["returns"]
    r = cli("evaluate", "--checkpoint", "paper", "--config", config)
    assert r.returncode == 2 and "needs --env" in r.stderr


def test_json_of_a_failed_run_is_strict():
    """A failed run's NaN is written as null (strict JSON; sgx evaluate --json used to throw on it)."""
    nan = float("nan")
    results = {"ppo": {"iqm": nan, "mean": nan, "min": nan, "max": nan, "failed_runs": 2, "returns": [nan, nan]},
               "dqn": {"iqm": 1.5, "mean": 1.5, "min": 1.0, "max": 2.0, "failed_runs": 1, "returns": [1.0, nan, 2.0]}}
    text = json.dumps(metalearning.results_json(results), allow_nan=False)
    back = json.loads(text)
    assert back["ppo"]["iqm"] is None and back["ppo"]["returns"] == [None, None] and back["ppo"]["failed_runs"] == 2
    assert back["dqn"]["returns"] == [1.0, None, 2.0] and back["dqn"]["iqm"] == 1.5


def test_clean_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("GENERATIONS", "two"))
    r = cli("metalearn", "--config", str(bad), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "meta_config.num_generations" in r.stderr and str(bad) in r.stderr
    bad.write_text("env_name: CartPole-v1\ninner_config: [unclosed\n")
    r = cli("metalearn", "--config", str(bad), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "YAML" in r.stderr and "Traceback" not in r.stderr
    r = cli("metalearn", "--config", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    # A directory holding another config's run.
    config = tiny_config(tmp_path, generations=1)
    assert cli("metalearn", "--config", config, "--out", str(tmp_path / "run")).returncode == 0
    other = tiny_config(tmp_path, generations=1, name="other.yaml")
    with open(other, "a") as f:
        f.write("# another config\n")
    r = cli("metalearn", "--config", other, "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "another config" in r.stderr and "Traceback" not in r.stderr
    # evaluate: an unknown algorithm, no checkpoint of ours, no config, a checkpoint of another environment.
    checkpoint = str(tmp_path / "run" / "mean.safetensors")
    r = cli("evaluate", "--env", "Synthetic-CartPole-v1", "--checkpoint", checkpoint, "--config", config,
            "--algos", "ppo,a2c", "--runs", "2")
    assert r.returncode == 2 and "unknown algorithm 'a2c'" in r.stderr and "Traceback" not in r.stderr
    # (every classic id has a checkpoint and config of ours; the Brax tasks have none)
    assert metalearning.own_checkpoint("Synthetic-hopper") == (None, None)
    r = cli("evaluate", "--env", "Synthetic-hopper", "--config", config)
    assert r.returncode == 2 and "no checkpoint of Synthetic-hopper" in r.stderr and "--checkpoint" in r.stderr
    assert "Traceback" not in r.stderr
    r = cli("evaluate", "--env", "Synthetic-hopper", "--checkpoint", checkpoint)
    assert r.returncode == 2 and "no config for Synthetic-hopper" in r.stderr and "Traceback" not in r.stderr
    r = cli("evaluate", "--env", "Synthetic-Pendulum-v1", "--checkpoint", checkpoint, "--config", config)
    assert r.returncode == 2 and "not Synthetic-Pendulum-v1" in r.stderr
    # argparse's own errors are exit code 2 as well.
    assert cli("metalearn", "--config", config).returncode == 2
    assert cli("metalearn", "--config", config, "--out", "x", "--generations", "-1").returncode == 2


def test_api_errors(tmp_path):
    config = tiny_config(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sgs.metalearn(tmp_path / "missing.yaml", tmp_path / "run")
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("GENERATIONS", "2").replace("popsize: 4", "popsize: four"))
    with pytest.raises(sgs.CheckpointError, match="strategy_params.popsize"):
        sgs.metalearn(bad, tmp_path / "run")
    with pytest.raises(TypeError):
        sgs.metalearn(3, tmp_path / "run")
    assert metalearning.config_algorithms(config) == ["ppo", "dqn"]
    with pytest.raises(ValueError, match="runs"):
        sgs.evaluate_transfer(tmp_path / "x.safetensors", config, runs=0)
    with pytest.raises(FileNotFoundError):
        sgs.evaluate_transfer(tmp_path / "x.safetensors", config, runs=2)


WARM = """
init: {method: distill, expert: dqn, steps: 3000, episodes: 4, fit_steps: 200,
       expert_kwargs: {num_envs: 4, buffer_size: 2000, fill_buffer: 200, batch_size: 32}}
"""


def test_warm_start_through_the_cli(tmp_path):
    """A config with this project's `init` block runs through the Python CLI
    (and so the C ABI): the warm start is saved beside the run and is an
    environment of the real task; a bad block exits 2 naming the key."""
    config = tmp_path / "warm.yaml"
    config.write_text(TINY.replace("GENERATIONS", "1") + WARM)
    # --generations 0 makes the warm start alone (sgx metalearn's, before issue 22).
    r = cli("metalearn", "--config", str(config), "--out", str(tmp_path / "run"), "--generations", "0")
    assert r.returncode == 0, r.stderr
    assert "warm start (distill): expert dqn" in r.stdout and "0 generations complete" in r.stdout, r.stdout
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["generation"] == 0 and state["log"] == [] and not (tmp_path / "run" / "log.csv").exists()
    first = json.loads((tmp_path / "run" / "warm_start.json").read_text())
    r = cli("metalearn", "--config", str(config), "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "run" / "warm_start.json").read_text())
    assert report == first  # resumed, not made again
    assert report["expert"] == "dqn" and report["expertSteps"] == 3000 and len(report["expertReturns"]) == 1
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["warmStart"] == report and state["generation"] == 1
    env, params = sgs.make("Synthetic-CartPole-v1", checkpoint=str(tmp_path / "run" / "warm_start.safetensors"))
    obs, _ = env.reset(np.array([0, 1], np.uint32), params)
    assert obs.shape == (4,) and np.all(np.isfinite(obs))
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("GENERATIONS", "1") + WARM.replace("expert: dqn", "expert: a2c"))
    r = cli("metalearn", "--config", str(bad), "--out", str(tmp_path / "bad"))
    assert r.returncode == 2 and "init.expert" in r.stderr and "a2c" in r.stderr and "Traceback" not in r.stderr
