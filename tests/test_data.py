"""The batch stream is a pure function of (seed, step); loaders read the real formats."""

import numpy as np
import pytest
import torch

from lrtraj import data
from tests import fixtures


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset({"name": "noisy_digits", "noise_sigma": 1.0, "max_shift": 1})


def test_batch_depends_only_on_seed_and_step(digits):
    a = digits.stream(32, 7, "cpu")
    b = digits.stream(32, 7, "cpu")
    # visiting steps in different orders (as a resumed or branched run does) changes nothing
    xa = {s: a.batch(s) for s in (0, 5, 40, 3)}
    xb = {s: b.batch(s) for s in (3, 40, 0, 5)}
    for s in xa:
        torch.testing.assert_close(xa[s][0], xb[s][0], rtol=0, atol=0)
        assert torch.equal(xa[s][1], xb[s][1])
    other = digits.stream(32, 8, "cpu").batch(5)
    assert not torch.equal(other[0], xa[5][0])


def test_each_epoch_visits_every_example_once():
    n, bs = 50, 7
    idx = np.concatenate([data.batch_indices(3, s, bs, n) for s in range(50)])  # 350 = 7 epochs
    for e in range(7):
        assert sorted(idx[e * n : (e + 1) * n]) == list(range(n))


def test_fresh_noise_every_step_fixed_noise_for_evaluation(digits):
    s = digits.stream(16, 0, "cpu")
    x0, _ = s.batch(0)
    assert x0.std() > 1.2  # standardized images plus sigma=1 noise
    assert digits.splits == ("train", "test", "test_clean")
    clean_x, _ = digits.eval_sets["test_clean"]
    noisy_x, _ = digits.eval_sets["test"]
    assert (noisy_x - clean_x).std() > 0.9  # noise (sigma 1) plus shifts
    again = data.load_dataset({"name": "noisy_digits", "noise_sigma": 1.0, "max_shift": 1})
    assert torch.equal(again.eval_sets["test"][0], noisy_x)  # the same noisy copy every time


def test_shift_moves_pixels_and_fills_zeros():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(2, 1, 1, 1)
    out = data.shift_images(x, torch.tensor([[1, 0], [0, -1]]), pad=1)
    torch.testing.assert_close(out[0, 0, 1:], x[0, 0, :3])
    assert out[0, 0, 0].eq(0).all()
    torch.testing.assert_close(out[1, 0, :, :3], x[1, 0, :, 1:])
    assert out[1, 0, :, 3].eq(0).all()


@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_loader_reads_python_batches(tmp_path, classes):
    root = fixtures.write_cifar(tmp_path, classes)
    ds = data.load_dataset(
        {"name": f"cifar{classes}", "data_dir": str(root), "crop_padding": 4, "flip": True}
    )
    x, y = ds.stream(8, 0, "cpu").batch(0)
    assert x.shape == (8, 3, 32, 32) and y.dtype == torch.long
    assert ds.splits == ("train", "test") and len(ds.eval_sets["test"][1]) == 20


def test_fashion_mnist_loader_reads_idx_and_pools(tmp_path):
    root = fixtures.write_fashion_mnist(tmp_path)
    ds = data.load_dataset({"name": "fashion_mnist", "data_dir": str(root), "pool": 2})
    x, _ = ds.stream(5, 0, "cpu").batch(3)
    assert x.shape == (5, 1, 14, 14) and ds.num_classes == 10


def test_image_folder_stream_is_deterministic(tmp_path):
    root = fixtures.write_image_folder(tmp_path)
    ds = data.load_dataset(
        {"name": "imagenet", "data_dir": str(root), "image_size": 32, "num_workers": 0}
    )
    first = list(ds.stream(4, 1, torch.device("cpu")).batches(2, 4))
    again = list(ds.stream(4, 1, torch.device("cpu")).batches(3, 4))
    assert first[0][1].shape == (4, 3, 32, 32) and ds.num_classes == 3
    torch.testing.assert_close(first[1][1], again[0][1], rtol=0, atol=0)
    xs, ys = next(ds.eval_batches("test", 5, torch.device("cpu")))
    assert xs.shape == (5, 3, 32, 32)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "fashion_mnist", "imagenet"])
def test_missing_data_names_the_path(tmp_path, name):
    missing = tmp_path / "nowhere"
    with pytest.raises(data.DataNotFoundError, match=str(missing)):
        data.load_dataset({"name": name, "data_dir": str(missing)})


def test_real_fashion_mnist_from_debian_package(tmp_path):
    root = fixtures.debian_fashion_mnist(tmp_path)
    if root is None:
        pytest.skip("Debian package dataset-fashion-mnist not installed (CI installs it)")
    ds = data.load_dataset({"name": "fashion_mnist", "data_dir": str(root), "pool": 2})
    assert len(ds.train_y) == 60_000 and len(ds.eval_sets["test"][1]) == 10_000
    assert sorted(ds.train_y.unique().tolist()) == list(range(10))


def test_a_cifar_pickle_that_would_run_code_is_refused(tmp_path):
    import pickle

    root = fixtures.write_cifar(tmp_path, 10)
    evil = {"data": __import__("os").system, "labels": [0]}  # a global that is not an array
    (root / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps(evil))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        data.load_dataset({"name": "cifar10", "data_dir": str(root)})


def test_loader_workers_follow_the_cpus_a_job_was_given():
    from lrtraj.data.imagenet import loader_workers

    assert loader_workers(16, cpus=4) == 3  # one CPU stays with the training process
    assert loader_workers(2, cpus=16) == 2  # never more than asked
    assert loader_workers(8, cpus=1) == 0  # a 1-CPU job loads in the main process
