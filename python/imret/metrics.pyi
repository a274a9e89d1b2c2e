from typing import Dict, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike

def average_precision(y_true: ArrayLike, scores: ArrayLike) -> float: ...
def ranking_metrics(
    y_true: ArrayLike, scores: ArrayLike, k: Sequence[int] = ..., pr_points: int = ...
) -> Dict[str, Union[int, float, Dict[int, float]]]: ...
def pr_curve(y_true: ArrayLike, scores: ArrayLike, points: int = ...) -> Tuple[np.ndarray, np.ndarray]: ...
def retrieval_metrics(
    query_emb: ArrayLike,
    query_labels: ArrayLike,
    db_emb: ArrayLike,
    db_labels: ArrayLike,
    metric: str = ...,
    k: Sequence[int] = ...,
    exclude_self: bool = ...,
    pr_points: int = ...,
) -> Dict[str, object]: ...
