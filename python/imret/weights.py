"""Weight files without torch: load(path) -> {name: array} from .pth (zip or
legacy) and safetensors; save_safetensors(path, {name: array})."""
from ._imret.weights import load, save_safetensors

__all__ = ["load", "save_safetensors"]
