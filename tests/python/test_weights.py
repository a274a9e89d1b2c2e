"""imret.weights against torch.load on files torchvision writes."""
import numpy as np
import pytest
import torch
import torchvision

import imret


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    torch.manual_seed(0)
    state = torchvision.models.resnet18().state_dict()
    folder = tmp_path_factory.mktemp("weights")
    torch.save(state, folder / "zip.pth")
    torch.save(state, folder / "legacy.pth", _use_new_zipfile_serialization=False)
    return state, folder


@pytest.mark.parametrize("name", ["zip.pth", "legacy.pth"])
def test_load_equals_torch_load(resnet, name):
    state, folder = resnet
    loaded = imret.weights.load(str(folder / name))
    assert list(loaded) == list(state)
    for key, tensor in state.items():
        np.testing.assert_array_equal(loaded[key], tensor.numpy())
        assert loaded[key].dtype == tensor.numpy().dtype


def test_safetensors_round_trip(resnet, tmp_path):
    state, _ = resnet
    arrays = {k: v.numpy() for k, v in state.items()}
    imret.weights.save_safetensors(str(tmp_path / "w.safetensors"), arrays, {"note": "test"})
    back = imret.weights.load(str(tmp_path / "w.safetensors"))
    for key in arrays:
        np.testing.assert_array_equal(back[key], arrays[key])


def test_truncated_and_missing_files(resnet, tmp_path):
    _, folder = resnet
    data = (folder / "zip.pth").read_bytes()
    for cut in (len(data) // 2, 100, 10):
        (tmp_path / "cut.pth").write_bytes(data[:cut])
        with pytest.raises(imret.FormatError, match="cut.pth"):
            imret.weights.load(str(tmp_path / "cut.pth"))
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(imret.FormatError, match="text.pth"):
        imret.weights.load(str(tmp_path / "text.pth"))
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        imret.weights.load(str(tmp_path / "missing.pth"))
    assert issubclass(imret.FormatError, ValueError)
