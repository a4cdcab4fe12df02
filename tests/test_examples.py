"""The README's example and the example scripts run and do what they claim."""
import importlib.util
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _readme_python_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_example_fits_the_linear_map(capsys):
    blocks = _readme_python_blocks()
    assert blocks, "README.md has no python example"
    scope = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    w = scope["w"].data.to_numpy().ravel()
    np.testing.assert_allclose(w, [1.0, -2.0, 0.5], atol=1e-3)
    assert scope["loss"].item() < 1e-5
    assert scope["gx"].shape == (3, 1)


def test_readme_training_example_logs_saves_and_resumes(tmp_path, monkeypatch, capsys):
    blocks = _readme_python_blocks()
    assert len(blocks) >= 2, "README.md lost its training example"
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(blocks[1], "README.md", "exec"), scope)
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("epoch") for line in lines) == 40
    assert scope["loss"].item() < 0.02
    report = scope["report"]
    assert report.ok and report.metadata == {"epoch": 40}
    assert (tmp_path / "model.fdl.h5").exists()


def test_readme_is_short_and_names_both_setup_commands():
    text = (ROOT / "README.md").read_text()
    assert "python3 examples/train_mlp.py" in text
    assert "python3 -m pytest -q" in text
    assert len(_readme_python_blocks()[0].strip().splitlines()) <= 22


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_cmd = [line for line in readme.splitlines() if "pytest" in line and "pip install" in line]
    assert len(test_cmd) == 1
    assert test_cmd[0].strip() in (ROOT / ".ci" / "run").read_text()


def test_example_mlp_loss_falls():
    spec = importlib.util.spec_from_file_location("train_mlp", ROOT / "examples" / "train_mlp.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    first = mod.main(epochs=1)
    last = mod.main(epochs=15)
    assert last < 0.7 * first, (first, last)


def test_example_classifier_learns_the_spiral():
    spec = importlib.util.spec_from_file_location(
        "train_classifier", ROOT / "examples" / "train_classifier.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    loss, accuracy = mod.main(epochs=40, verbose=False)
    assert accuracy > 0.95, (loss, accuracy)


def test_showcase_uses_every_builder_method_trains_and_draws(tmp_path):
    spec = importlib.util.spec_from_file_location("showcase", ROOT / "examples" / "showcase.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    source = (ROOT / "examples" / "showcase.py").read_text()
    for method in ("through", "fork", "also", "also_with", "split", "merge", "tag",
                   "tag_group", "internal", "using", "input", "label", "loop_body",
                   "for_n", "while_cond", "until_cond", "gate", "switch", "map", "each",
                   "over", "slices", "batched", "build"):
        assert f".{method}(" in source, method
    losses = mod.main(steps=20, out_dir=str(tmp_path), verbose=False)
    assert losses[-1] < losses[0]
    assert (tmp_path / "showcase.dot").read_text().startswith("digraph")
    assert "loss" in (tmp_path / "showcase_training.html").read_text()
    import shutil
    if shutil.which("dot"):
        assert "<svg" in (tmp_path / "showcase.svg").read_text()


def test_monitor_demo_trains_serves_writes_reports_and_exits(tmp_path):
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "monitor_demo.py"),
                          "--out", str(tmp_path), "--epochs", "3"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/", run.stdout)
    assert "epoch 3/3" in run.stdout and "blobs complete: 3/3 epochs" in run.stdout
    log = (tmp_path / "training.log").read_text().splitlines()
    assert [line.split("  ")[0] for line in log[1:4]] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    rows = (tmp_path / "training.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,duration,loss,accuracy") and len(rows) == 4
    losses = [float(r.split(",")[2]) for r in rows[1:]]
    assert losses[-1] < losses[0]
    report = (tmp_path / "report.html").read_text()
    assert report.startswith("<!DOCTYPE html>") and re.search(r'"status"\s*:\s*"complete"', report)
