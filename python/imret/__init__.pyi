from typing import List, Optional, Union
import os

import numpy as np
import numpy.typing as npt

from . import data as data, manifold as manifold, metrics as metrics, search as search, weights as weights

__version__: str

class FormatError(ValueError): ...

def set_num_threads(n: int) -> int: ...
def get_num_threads() -> int: ...

class Embedder:
    def __init__(self, checkpoint: Optional[str] = ..., device: str = ..., batch_size: int = ...,
                 database: Optional[str] = ..., precision: str = ...) -> None: ...
    def embed(self, images: Union[npt.ArrayLike, List[Union[str, os.PathLike]]]) -> np.ndarray: ...
    @property
    def dimension(self) -> int: ...
