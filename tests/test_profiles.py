"""Chip profiles: packaged TOML files, sources for every figure, the loader's errors, the symlinks."""

import ast
import importlib.util
import math
import re
from importlib import resources
from pathlib import Path

import pytest

from neurorec.hardware.chips import FIGURES, ChipProfile, load_profile, profile_names, profiles

NAMES = {"loihi", "loihi2", "truenorth", "spinnaker", "spinnaker2", "xylo", "speck", "cmos45"}
CONTRACT = ("cores_per_chip", "neurons_per_core", "neurons_per_chip", "synapses_per_core", "synapses_per_chip",
            "max_fan_in", "max_fan_out", "weight_bits", "membrane_bits", "synapse_bits", "threshold_bits", "decay",
            "decay_bits", "neuron_models", "time_step_ms", "energy_per_synop_pj", "energy_per_neuron_update_pj",
            "energy_per_spike_pj", "energy_per_mac_pj", "energy_per_add_pj", "energy_per_memory_access_pj")
REPO = Path(__file__).resolve().parents[1]


def test_every_profile_is_packaged_and_loads():
    assert set(profile_names()) == NAMES
    folder = resources.files("neurorec.hardware").joinpath("profiles")
    for name in NAMES:
        assert folder.joinpath(f"{name}.toml").is_file()
        p = load_profile(name)
        assert isinstance(p, ChipProfile) and p.name == name and p.kind in ("neuromorphic", "mac")
    assert load_profile(" Loihi2 ").name == "loihi2"


def test_every_figure_has_a_source_and_every_gap_a_note():
    for name in NAMES:
        p = load_profile(name)
        for f in FIGURES:
            value = getattr(p, f)
            if value is not None:
                assert p.sources.get(f, "").strip(), f"{name}.{f} has a value but no source"
        for f in CONTRACT:
            if getattr(p, f) is None and p.kind == "neuromorphic":
                assert p.notes.get(f, "").strip(), f"{name}.{f} is empty without a note"


def test_profiles_dataframe():
    df = profiles()
    assert sorted(df["name"]) == sorted(NAMES)
    row = df.set_index("name")
    assert row.loc["truenorth", "cores_per_chip"] == 4096 and row.loc["truenorth", "neurons_per_core"] == 256
    assert row.loc["loihi", "cores_per_chip"] == 128
    assert row.loc["xylo", "decay"] == "bitshift"
    full = profiles(all_fields=True)
    assert set(FIGURES) <= set(full.columns)


def test_figures_agree_with_their_arithmetic():
    tn = load_profile("truenorth")
    assert tn.neurons_per_chip == tn.cores_per_chip * tn.neurons_per_core
    assert tn.synapses_per_chip == tn.cores_per_chip * tn.synapses_per_core == 2 ** 28
    lo = load_profile("loihi")
    assert lo.neurons_per_chip == lo.cores_per_chip * lo.neurons_per_core
    sp = load_profile("speck")
    assert sp.cores_per_chip == len(sp.kernel_memory_per_core) == len(sp.neuron_memory_per_core)
    assert sp.neurons_per_chip == sum(sp.neuron_memory_per_core)
    assert sp.synapses_per_chip == sum(sp.kernel_memory_per_core)
    cm = load_profile("cmos45")
    assert math.isclose(cm.energy_per_mac_pj, cm.energy_fp32_mult_pj + cm.energy_fp32_add_pj)
    assert (cm.energy_int8_add_pj, cm.energy_int8_mult_pj, cm.energy_int32_add_pj, cm.energy_int32_mult_pj) == \
        (0.03, 0.2, 0.1, 3.1)


def _vendor_source(module: str, relpath: str) -> str | None:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / relpath
    return path.read_text() if path.is_file() else None


def test_speck_memories_match_sinabs_source():
    # read sinabs' constants from its source text (importing the module needs the vendor's samna)
    text = _vendor_source("sinabs", "backend/dynapcnn/chips/dynapcnn.py")
    if text is None:
        pytest.skip("sinabs not installed (pip install neurorec[peers]; sinabs --no-deps)")
    fn = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name == "get_constraints")
    lists = {}
    for t in fn.body:   # list literals of products like 16 * 1024, evaluated without running sinabs' code
        if isinstance(t, ast.Assign) and isinstance(t.value, ast.List | ast.BinOp):
            lists[t.targets[0].id] = eval(compile(ast.Expression(t.value), "<sinabs>", "eval"), {})  # noqa: S307
    sp = load_profile("speck")
    assert list(sp.kernel_memory_per_core) == lists["weight_memory_size"]
    assert list(sp.neuron_memory_per_core) == lists["neurons_memory_size"]
    assert list(sp.bias_memory_per_core) == lists["bias_memory_size"]


def test_xylo_limits_match_rockpool_mapper():
    text = _vendor_source("rockpool", "devices/xylo/syns61201/xylo_mapper.py")
    if text is None:
        pytest.skip("rockpool not installed (pip install neurorec[peers])")
    fn = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name == "mapper")
    defaults = dict(zip([a.arg for a in fn.args.args][-len(fn.args.defaults):],
                        [getattr(d, "value", None) for d in fn.args.defaults], strict=True))
    x = load_profile("xylo")
    assert x.neurons_per_chip == defaults["max_hidden_neurons"] + defaults["max_output_neurons"]
    assert x.max_outputs == defaults["max_output_neurons"]
    assert "> 16" in text and x.max_inputs == 16


def _write(tmp_path, body: str) -> Path:
    path = tmp_path / "chip.toml"
    path.write_text('schema = 1\nname = "chip"\nfull_name = "A chip"\nkind = "neuromorphic"\n' + body)
    return path


def test_user_profile_from_path(tmp_path):
    path = _write(tmp_path, '[cores_per_chip]\nvalue = 4\nsource = "my datasheet, p. 3"\n'
                            '[max_fan_in]\nnote = "unknown"\n')
    p = load_profile(path)
    assert p.cores_per_chip == 4 and p.sources["cores_per_chip"] == "my datasheet, p. 3"
    assert p.max_fan_in is None and p.notes["max_fan_in"] == "unknown"
    assert load_profile(str(path)).cores_per_chip == 4


@pytest.mark.parametrize("body, message", [
    ('[cores]\nvalue = 4\nsource = "x"\n', "unknown field(s) ['cores']"),
    ('[cores_per_chip]\nvalue = 4.5\nsource = "x"\n', "field 'cores_per_chip': value must be a non-negative integer"),
    ('[cores_per_chip]\nvalue = 4\n', "field 'cores_per_chip': has a value (4) but no source"),
    ('[decay]\nvalue = "linear"\nsource = "x"\n', "field 'decay': value must be one of"),
    ('[neuron_models]\nvalue = ["hodgkin_huxley"]\nsource = "x"\n', "unknown neuron model(s) ['hodgkin_huxley']"),
    ('[max_fan_in]\n', "an empty figure needs a note"),
    ('[max_fan_in]\nvalue = 3\nsource = "x"\nunit = "n"\n', "unknown key(s) ['unit']"),
    ('max_fan_in = 3\n', "field 'max_fan_in': must be a table"),
])
def test_loader_errors_name_file_and_field(tmp_path, body, message):
    path = _write(tmp_path, body)
    with pytest.raises(ValueError) as err:
        load_profile(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_unknown_name_lists_the_known_profiles(tmp_path):
    with pytest.raises(ValueError, match="unknown chip profile 'loihi3'; known profiles: cmos45, loihi, loihi2"):
        load_profile("loihi3")
    with pytest.raises(FileNotFoundError):
        load_profile(tmp_path / "missing.toml")


def test_hardware_folders_link_to_the_packaged_profiles():
    top = REPO / "hardware"
    if not top.is_dir():
        pytest.skip("not a source checkout (no top-level hardware/ folder)")
    assert (top / "README.md").is_file()
    folder = resources.files("neurorec.hardware").joinpath("profiles")
    for name in NAMES:
        link = top / name / "profile.toml"
        assert link.is_symlink(), f"{link} must be a symlink"
        assert Path(link.readlink()) == Path("../../neurorec/hardware/profiles") / f"{name}.toml"
        assert link.resolve() == Path(str(folder.joinpath(f"{name}.toml"))).resolve()
        assert (top / name / "README.md").is_file()
        assert load_profile(link) == load_profile(name)


def test_xylo_vendor_script_maps_a_nir_graph(tmp_path):
    """hardware/xylo/nir_to_xylo.py through rockpool's own Xylo mapper (no samna needed), and the
    vendor's refusal of 10 outputs agreeing with check(..., "xylo")."""
    import subprocess
    import sys

    import numpy as np

    from neurorec.hardware.fit import check

    nir = pytest.importorskip("nir")
    pytest.importorskip("rockpool")
    script = REPO / "hardware" / "xylo" / "nir_to_xylo.py"
    if not script.is_file():
        pytest.skip("not a source checkout")
    rng = np.random.default_rng(0)
    dt, tau = 1e-3, 8e-3                       # dash_mem = log2(tau / dt) = 3

    def graph(n_out):
        return nir.NIRGraph(nodes={
            "input": nir.Input(input_type=np.array([6])),
            "hidden.0": nir.Linear(weight=rng.normal(size=(20, 6))),
            "lif.0": nir.LIF(tau=np.full(20, tau), r=np.ones(20), v_leak=np.zeros(20), v_threshold=np.ones(20)),
            "output": nir.Linear(weight=rng.normal(size=(n_out, 20))),
            "readout": nir.LI(tau=np.full(n_out, tau), r=np.ones(n_out), v_leak=np.zeros(n_out)),
            "out": nir.Output(output_type=np.array([n_out]))},
            edges=[("input", "hidden.0"), ("hidden.0", "lif.0"), ("lif.0", "output"), ("output", "readout"),
                   ("readout", "out")], metadata={"dt": dt})

    g, g10 = graph(3), graph(10)
    paths = [tmp_path / "net.nir", tmp_path / "net10.nir"]
    nir.write(str(paths[0]), g)
    nir.write(str(paths[1]), g10)
    out = tmp_path / "spec.npz"
    driver = (f"import sys; sys.path.insert(0, {str(script.parent)!r}); import nir_to_xylo as m; "
              f"print('RC', m.main([{str(paths[0])!r}, {str(out)!r}]), m.main([{str(paths[1])!r}, {str(out)!r}]), "
              f"m.main([{str(tmp_path / 'missing.nir')!r}, {str(out)!r}]))")
    run = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=300)
    assert "RC 0 1 2" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
    # bad input is exit 2 with one line, checked before the mapping: an output path that cannot be written
    for bad_out, why in ((tmp_path / "nope" / "x.npz", "the folder .* does not exist"), (tmp_path, "is a folder")):
        bad = subprocess.run([sys.executable, str(script), str(paths[0]), str(bad_out)], capture_output=True,
                             text=True, timeout=300)
        assert bad.returncode == 2 and bad.stdout == "", bad.stderr[-2000:]
        assert len(bad.stderr.strip().splitlines()) == 1 and re.match(f"error: .*{why}", bad.stderr), bad.stderr
    # rockpool's DRCWarning about biases (warnings + its logging) is said once, by the script's note
    gb = nir.NIRGraph(nodes={**g.nodes, "hidden.0": nir.Affine(weight=g.nodes["hidden.0"].weight,
                                                               bias=np.full(20, 0.1))}, edges=g.edges,
                      metadata={"dt": dt})
    nir.write(str(tmp_path / "biased.nir"), gb)
    run_b = subprocess.run([sys.executable, str(script), str(tmp_path / "biased.nir"), str(tmp_path / "b.npz")],
                           capture_output=True, text=True, timeout=300)
    both = run_b.stdout + run_b.stderr
    assert run_b.returncode == 0, both[-2000:]
    assert both.count("DRCWarning") == 1 and both.count("not transferred") == 1 and "py.warnings" not in both, both
    assert "note: the biases of ['hidden.0'] are not transferred" in run_b.stdout
    assert "Exceeded number of available resources" in run.stderr        # the vendor's refusal of 10 outputs
    assert "network output neurons 10 > 8 (max_outputs of xylo) by 2" in check(paths[1], "xylo").reasons
    assert check(paths[0], "xylo").fits
    spec = np.load(out)                        # written by the first (successful) call
    assert spec["weights_in"].shape == (6, 20, 1) and spec["weights_out"].shape == (20, 3)
    assert spec["weights_in"].dtype.kind == "i" and np.abs(spec["weights_in"]).max() == 127
    assert set(spec["dash_mem"].tolist()) == {3} and set(spec["dash_syn"].tolist()) == {0}
    # the int8 input weights: each target neuron's column scaled to +-127 (rockpool's channel_quantize)
    w = g.nodes["hidden.0"].weight.T
    np.testing.assert_allclose(spec["weights_in"][:, :, 0], np.round(w * 127 / np.abs(w).max(0)), atol=1)
