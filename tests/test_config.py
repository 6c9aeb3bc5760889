"""Config validation: every problem is reported with the key that causes it."""

import copy
from pathlib import Path

import pytest
import yaml

from lrtraj import config as lrconfig
from lrtraj.models import build_model

DEFAULT = yaml.safe_load(lrconfig.DEFAULT_CONFIG.read_text())
OVERLAYS = Path(__file__).resolve().parents[1] / "config"


def checked(**overlay):
    cfg = lrconfig.deep_update(copy.deepcopy(DEFAULT), overlay)
    lrconfig.validate_schema(cfg)
    lrconfig.check(cfg)
    return cfg


def test_default_and_paper_scale_configs_are_valid():
    checked()
    for name in ("imagenet", "cifar10", "cifar100", "fashion_mnist"):
        cfg = lrconfig.load(OVERLAYS / f"{name}.yaml")
        assert cfg["experiment"] == name


def test_rehearsal_keeps_the_paper_scale_shapes_and_shrinks_the_steps():
    paper = lrconfig.load(OVERLAYS / "cifar10.yaml")
    rehearsal = lrconfig.load(OVERLAYS / "rehearsal_cifar10.yaml")
    for section, key in [
        ("model", "name"),
        ("data", "name"),
        ("data", "crop_padding"),
        ("data", "flip"),
        ("trajectory", "batch_size"),
        ("optimizer", "momentum"),
    ]:
        assert rehearsal[section][key] == paper[section][key], f"{section}.{key}"
    assert set(rehearsal["sidetrips"]["averaging"]) == set(paper["sidetrips"]["averaging"])
    assert rehearsal["trajectory"]["steps"] < paper["trajectory"]["steps"]
    assert rehearsal["distributed"]["ranks"] == 2


def test_defaults_are_filled():
    cfg = copy.deepcopy(DEFAULT)
    del cfg["optimizer"]["nesterov"]
    lrconfig.validate_schema(cfg)
    assert cfg["optimizer"]["nesterov"] is False


def test_filled_defaults_are_not_shared_between_configs():
    # the schema is cached: a filled-in default must be each config's own copy
    a, b = copy.deepcopy(DEFAULT), copy.deepcopy(DEFAULT)
    for cfg in (a, b):
        del cfg["compute"], cfg["model"]["widths"]
        lrconfig.validate_schema(cfg)
    a["compute"]["autocast"] = "bf16"
    a["model"]["widths"].append(128)
    assert b["compute"] == {
        "channels_last": False,
        "autocast": "none",
        "compile": False,
        "cudnn_benchmark": False,
    }
    assert b["model"]["widths"] == [16, 32, 64]


@pytest.mark.parametrize(
    "overlay,key",
    [
        ({"trajectory": {"lr": -1.0}}, "trajectory.lr"),
        ({"trajectory": {"lr": "fast"}}, "trajectory.lr"),
        ({"model": {"name": "vgg"}}, "model.name"),
        ({"sidetrips": {"data_seeds": []}}, "sidetrips.data_seeds"),
        ({"evaluation": {"batchnorm": "freeze"}}, "evaluation.batchnorm"),
        ({"colour": "blue"}, "<top level>: Additional properties are not allowed ('colour'"),
    ],
)
def test_schema_errors_name_the_key(overlay, key):
    with pytest.raises(lrconfig.ConfigError, match=key.replace("(", r"\(")):
        checked(**overlay)


@pytest.mark.parametrize(
    "overlay,message",
    [
        ({"sidetrips": {"branch_steps": [7000]}}, "sidetrips.branch_steps: 7000 is after"),
        ({"sidetrips": {"averaging": {"swa": {"n": 8, "c": 100}}}}, "exceeds the side-trip length"),
        ({"figures": {"fig5": {"branch_step": 4000, "split": "test"}}}, "figures.fig5.branch_step"),
        ({"data": {"name": "cifar10", "data_dir": None}}, "data.data_dir: required"),
        ({"distributed": {"ranks": 3}}, "trajectory.batch_size: 64 is not divisible by distri"),
        ({"distributed": {"ranks": 2}, "device": "cuda:1"}, "device: 'cuda:1' names one GPU"),
    ],
)
def test_relations_between_keys_are_checked(overlay, message):
    with pytest.raises(lrconfig.ConfigError, match=message):
        checked(**overlay)


def test_variants_are_overlays_with_null_removing_keys():
    exps = lrconfig.experiments(checked())
    noisy = exps["digits_noise1.5"]
    assert noisy["experiment"] == "digits_noise1.5" and noisy["data"]["noise_sigma"] == 1.5
    assert list(noisy["sidetrips"]["averaging"]) == ["two_point"]  # ema/swa removed by null
    assert noisy["model"] == exps["digits"]["model"]  # everything else inherited


def test_variant_problems_name_the_variant():
    cfg = checked(variants={"bad": {"trajectory": {"lr": -1}}})
    with pytest.raises(lrconfig.ConfigError, match="(?s)variants.bad: .*trajectory.lr"):
        lrconfig.experiments(cfg)


def test_fig10_needs_known_experiments():
    cfg = checked(figures={"fig10": {"experiments": ["digits", "cifar7"]}})
    with pytest.raises(lrconfig.ConfigError, match=r"figures.fig10.experiments: \['cifar7'\]"):
        lrconfig.experiments(cfg)


def test_convolutions_narrower_than_the_minimum_width_are_refused():
    with pytest.raises(lrconfig.ConfigError, match="model.widths"):
        checked(model={"widths": [4, 8, 8]})
    with pytest.raises(ValueError, match="at least 8"):
        build_model("resnet8", 1, 10, (4, 8, 8))


# Bad inputs that once passed validation (or failed only inside a job, naming the wrong key)
@pytest.mark.parametrize(
    "overlay,message",
    [
        ({"trajectory": {"lr": float("nan")}}, "trajectory.lr: nan is not a finite number"),
        ({"optimizer": {"momentum": float("nan")}}, "optimizer.momentum: nan is not a finite"),
        ({"optimizer": {"weight_decay": float("inf")}}, "optimizer.weight_decay: inf is not"),
        ({"data": {"noise_sigma": float("-inf")}}, "data.noise_sigma: -inf is not a finite"),
        (
            {"sidetrips": {"averaging": {"ema": {"beta": float("nan")}}}},
            "sidetrips.averaging.ema.beta: nan is not a finite",
        ),
        ({"sidetrips": {"lr": "nan"}}, "sidetrips.lr: nan is not a finite"),  # --config text
        ({"experiment": ".."}, "experiment: '..' does not match"),
        ({"experiment": "."}, "experiment: '.' does not match"),
        ({"experiment": "a/b"}, "experiment: 'a/b' does not match"),
        ({"experiment": ".hidden"}, "experiment: '.hidden' does not match"),
        ({"variants": {"..": {}}}, r"variants: '\.\.' does not match"),
        ({"resources": {"mem_mb": -5}}, "resources.mem_mb: -5 is less than the minimum of 1"),
        ({"resources": {"gpus": -1}}, "resources.gpus: -1 is less than the minimum of 0"),
        ({"resources": {"runtime": 0}}, "resources.runtime"),
        ({"resources": {"gpu_count": 1}}, r"resources: .*'gpu_count' was unexpected"),
        ({"trajectory": {"steps": 10**12}}, "trajectory.steps: 1000000000000 is greater than"),
        ({"sidetrips": {"steps": 10**12}}, "sidetrips.steps: 1000000000000 is greater than"),
        (
            {"distributed": {"ranks": 2}, "resources": {"tasks": 3}},
            "resources.tasks: 3 is neither distributed.ranks=2",
        ),
        (
            {"distributed": {"ranks": 4}, "resources": {"gpus": 1}},
            "resources.gpus: 1 GPUs for distributed.ranks=4",
        ),
        (
            {"distributed": {"ranks": 2}, "resources": {"gres": "gpu:a100:1"}},
            "resources.gres: 'gpu:a100:1' is 1 GPU",
        ),
        (
            {"distributed": {"ranks": 2}, "resources": {"gres": "shard:4,gpu"}},
            "resources.gres: 'gpu' is 1 GPU",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(overlay, message):
    with pytest.raises(lrconfig.ConfigError, match=message):
        checked(**overlay)


def test_resource_names_of_the_submitit_plugin_and_the_shipped_configs_are_accepted():
    checked(
        resources={
            "gpus": 1,
            "gpu_model": "a100",
            "mem_mb": 32000,
            "mem_mb_per_cpu": 4000,
            "runtime": "2h",
            "slurm_partition": "gpu",
            "slurm_account": "lab",
            "slurm_extra": "--qos=high",
            "cpus_per_task": 4,
            "disk_mb": 1000,
        }
    )
    checked(resources={"runtime": 720, "mem": "32GB"})


def test_text_from_the_command_line_becomes_the_number_the_schema_asks_for():
    cfg = checked(sidetrips={"lr": "0.05", "averaging": {"ema": {"beta": "0.95"}}})
    assert cfg["sidetrips"]["lr"] == 0.05
    assert cfg["sidetrips"]["averaging"]["ema"]["beta"] == 0.95
    assert checked(experiment="123")["experiment"] == "123"  # a string stays a string


def test_a_variant_named_like_the_experiment_is_refused():
    cfg = checked(variants={"digits": {"data": {"noise_sigma": 2.0}}})
    with pytest.raises(lrconfig.ConfigError, match="variants.digits: .*share the name"):
        lrconfig.experiments(cfg)


def test_a_non_finite_value_in_a_variant_names_the_variant_and_key(tmp_path):
    with pytest.raises(lrconfig.ConfigError, match="variants.v.optimizer.momentum: nan is not"):
        checked(variants={"v": {"optimizer": {"momentum": float("nan")}}})
    (tmp_path / "v.yaml").write_text("optimizer: {momentum: .nan}\n")  # a variant's own file
    cfg = checked(variants={"v": "v.yaml"})
    with pytest.raises(lrconfig.ConfigError, match="(?s)variants.v: .*optimizer.momentum: nan"):
        lrconfig.experiments(cfg, base_dir=tmp_path)


def test_duplicate_yaml_keys_are_refused_naming_key_and_file(tmp_path):
    path = tmp_path / "overlay.yaml"
    path.write_text("trajectory:\n  lr: 0.1\n  steps: 10\n  lr: 0.2\n")
    with pytest.raises(lrconfig.ConfigError, match=r"overlay.yaml: duplicate key 'lr' on line 4"):
        lrconfig.read_yaml(path)
    with pytest.raises(lrconfig.ConfigError, match="duplicate key 'lr'"):
        lrconfig.check_yaml_files([path])
    with pytest.raises(lrconfig.ConfigError, match="duplicate key 'lr'"):
        lrconfig.load(path)
    path.write_text("trajectory: {lr: 0.1}\nsidetrips: {lr: 0.2}\n")  # same key, other maps
    assert lrconfig.read_yaml(path)["sidetrips"]["lr"] == 0.2


def test_a_cuda_device_this_host_lacks_is_refused_unless_jobs_go_to_a_cluster():
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    cfg = checked(device=f"cuda:{count}")  # one past the last device this host has
    exps = lrconfig.experiments(cfg)
    with pytest.raises(lrconfig.ConfigError, match=f"device: 'cuda:{count}' but this host has"):
        lrconfig.check_device(exps, local=True)
    warnings = lrconfig.check_device(exps, local=False)  # the cluster job checks again
    assert warnings and all(f"cuda:{count}" in w for w in warnings)
    assert lrconfig.check_device(lrconfig.experiments(checked(device="cpu")), local=True) == []


def test_the_schema_accepts_exactly_the_slurm_plugins_resource_names():
    from snakemake_executor_plugin_submitit.resources import SLURM_RESOURCES

    schema = yaml.safe_load(lrconfig.SCHEMA_PATH.read_text())
    names = set(schema["properties"]["resources"]["properties"])
    assert names >= SLURM_RESOURCES  # a profile written for the standard plugin validates
    assert names - SLURM_RESOURCES <= {"mem", "disk", "disk_mb"}  # Snakemake's own


def test_schema_defaults_are_filled_in_one_place():
    # code reads cfg[key] for every key with a schema default: a config that omits such keys,
    # or a partial data section handed in by a test, gets the schema's values
    cfg = copy.deepcopy(DEFAULT)
    cfg["claims"] = {}
    lrconfig.validate_schema(cfg)
    assert cfg["claims"]["split"] == "test" and cfg["claims"]["slope_tol"] == 0.05
    data = lrconfig.with_defaults("data", {"name": "noisy_digits", "max_shift": 2})
    assert data["max_shift"] == 2 and data["test_fraction"] == 0.25 and data["eval_copies"] == 1
