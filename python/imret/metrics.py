"""Ranking metrics of retrieval, equal to scikit-learn's (ties included).

average_precision(y_true, scores)          sklearn.metrics.average_precision_score
ranking_metrics(y_true, scores, k)         AP, mAP@R, R-precision, RR, P@K, R@K, hit@K of one ranking
pr_curve(y_true, scores, points)           the interpolated precision-recall curve
retrieval_metrics(query_emb, query_labels, db_emb, db_labels, metric, k, exclude_self)
                                           every query against the database, as `imret evaluate`
"""
from ._imret.metrics import average_precision, pr_curve, ranking_metrics, retrieval_metrics

__all__ = ["average_precision", "pr_curve", "ranking_metrics", "retrieval_metrics"]
