"""pn.data: datasets, DataLoader, random_split, batched transforms, dataset loaders."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import pyneural as pn
from pyneural.data import DataLoader, Dataset, TensorDataset, random_split, transforms
from pyneural.data.datasets import load_digits, load_mnist, make_mnist1d, read_idx


def test_tensor_dataset_and_errors():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), [6.0, 7.0])
    assert yi.item() == 3
    with pytest.raises(ValueError, match=r"TensorDataset.*\(10, 2\).*\(9,\)"):
        TensorDataset(x, y[:9])


@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_covers_everything_once_and_respects_drop_last(drop_last):
    ds = TensorDataset(np.arange(23), np.arange(23) * 10)
    loader = DataLoader(ds, batch_size=5, shuffle=True, drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader) == (4 if drop_last else 5)
    seen = np.concatenate([b[0].numpy() for b in batches])
    assert len(seen) == (20 if drop_last else 23) and len(set(seen)) == len(seen)
    for xb, yb in batches:
        np.testing.assert_array_equal(yb.numpy(), xb.numpy() * 10)  # rows stay paired


def test_loader_is_deterministic_under_seed_and_reshuffles_each_epoch():
    ds = TensorDataset(np.arange(50))
    order = lambda: np.concatenate([b[0].numpy() for b in DataLoader(ds, batch_size=7, shuffle=True)])  # noqa
    pn.manual_seed(3)
    first, second = order(), order()
    pn.manual_seed(3)
    np.testing.assert_array_equal(order(), first)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in DataLoader(ds, batch_size=7)]),
                                  np.arange(50))  # no shuffle: in order
    rng = np.random.default_rng(5)
    mine = np.concatenate([b[0].numpy() for b in DataLoader(ds, batch_size=7, shuffle=True, generator=rng)])
    np.testing.assert_array_equal(mine, np.random.default_rng(5).permutation(50))


class Squares(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return {"x": np.array([i, i * i], dtype=np.float32), "label": i % 2}


def test_generic_dataset_default_and_custom_collate():
    xb = next(iter(DataLoader(Squares(), batch_size=4)))
    np.testing.assert_array_equal(xb["x"].numpy(), [[0, 0], [1, 1], [2, 4], [3, 9]])
    np.testing.assert_array_equal(xb["label"].numpy(), [0, 1, 0, 1])
    sizes = [len(b) for b in DataLoader(Squares(), batch_size=4, collate_fn=list)]
    assert sizes == [4, 2]
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(Squares(), batch_size=0)


def test_random_split():
    ds = TensorDataset(np.arange(10))
    a, b = random_split(ds, [7, 3])
    values = sorted(np.concatenate([[a[i][0].item() for i in range(len(a))], [b[i][0].item() for i in range(len(b))]]))
    assert (len(a), len(b)) == (7, 3) and values == list(range(10))
    assert [len(s) for s in random_split(ds, [0.5, 0.3, 0.2])] == [5, 3, 2]
    assert [len(s) for s in random_split(TensorDataset(np.arange(11)), [0.5, 0.5])] == [6, 5]  # remainder first
    with pytest.raises(ValueError, match="random_split"):
        random_split(ds, [5, 4])
    xb, = next(iter(DataLoader(a, batch_size=7)))  # a Subset of a TensorDataset is fetched in one gather
    np.testing.assert_array_equal(np.sort(xb.numpy()), np.sort(a.indices))


def test_flip_and_normalize():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(0.0)(x), x)
    pn.manual_seed(0)
    many = np.repeat(x[:1], 64, axis=0)
    flipped = transforms.RandomHorizontalFlip(0.5)(many)
    is_flipped = np.all(flipped == many[..., ::-1], axis=(1, 2, 3))
    assert 10 < is_flipped.sum() < 54 and np.all(is_flipped | np.all(flipped == many, axis=(1, 2, 3)))
    out = transforms.Normalize([1.0, 2.0, 3.0], [2.0, 4.0, 8.0])(pn.tensor(x))
    assert isinstance(out, pn.Tensor)
    np.testing.assert_allclose(out.numpy(), (x - np.array([1, 2, 3]).reshape(3, 1, 1)) / np.array([2, 4, 8]).reshape(3, 1, 1))
    with pytest.raises(ValueError, match="Normalize"):
        transforms.Normalize([0.0], [0.0])


def test_random_crop_takes_windows_of_the_padded_image():
    pn.manual_seed(1)
    x = np.random.default_rng(0).random((16, 2, 6, 7)).astype(np.float32)
    out = transforms.RandomCrop((4, 5), padding=1)(x)
    assert out.shape == (16, 2, 4, 5)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for n in range(16):  # each crop is some window of its own padded image
        assert any(np.array_equal(out[n], padded[n, :, i:i + 4, j:j + 5]) for i in range(5) for j in range(5))
    with pytest.raises(ValueError, match="RandomCrop"):
        transforms.RandomCrop(9)(x)


def test_rotation_and_affine():
    x = np.random.default_rng(1).random((3, 2, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(transforms.RandomRotation((90, 90))(x), np.rot90(x, axes=(2, 3)), atol=1e-5)
    np.testing.assert_allclose(transforms.RandomAffine(0, scale=(1.0, 1.0))(x), x, atol=1e-6)
    shifted = transforms.RandomAffine(0, translate=(0.2, 0.0))
    pn.manual_seed(2)
    out = shifted(x)
    assert out.shape == x.shape and not np.allclose(out, x)
    single = transforms.Compose([transforms.RandomRotation(10), transforms.Normalize([0.5], [0.5])])(x[0])
    assert single.shape == x[0].shape
    with pytest.raises(ValueError, match="expected an image"):
        transforms.RandomRotation(10)(np.ones((5, 5)))


def write_idx(path, array, gz=False):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    (gzip.open if gz else open)(path, "wb").write(header + array.tobytes())


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_idx_files(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 9, 8, 7], dtype=np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, gz)
    ds = load_mnist(tmp_path, train=False)
    xb, yb = next(iter(DataLoader(ds, batch_size=7)))
    assert xb.shape == (7, 1, 28, 28) and xb.dtype == pn.float32 and yb.dtype == pn.int64
    np.testing.assert_allclose(xb.numpy()[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(yb.numpy(), labels)
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_mnist(tmp_path, train=True)


def test_read_idx_rejects_bad_files(tmp_path):
    good = tmp_path / "good"
    write_idx(good, np.zeros((3, 4), np.uint8))
    np.testing.assert_array_equal(read_idx(good), np.zeros((3, 4)))
    (tmp_path / "magic").write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(good.read_bytes()[:-3])
    with pytest.raises(ValueError, match="says"):
        read_idx(tmp_path / "short")


def test_load_digits():
    pytest.importorskip("sklearn")
    ds = load_digits()
    x, y = ds.tensors
    assert x.shape == (1797, 1, 8, 8) and 0 <= x.numpy().min() and x.numpy().max() <= 1
    assert sorted(set(y.numpy().tolist())) == list(range(10))


def test_make_mnist1d():
    pytest.importorskip("mnist1d")
    train, test = make_mnist1d(num_samples=500)
    assert (len(train), len(test)) == (400, 100)
    x, y = train.tensors
    assert x.shape == (400, 1, 40) and y.dtype == pn.int64
