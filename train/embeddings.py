"""What the penultimate-layer features say without labels: 2-D projections (PCA, t-SNE, UMAP when installed),
K-means on the PCA components that keep 95% of the variance with an elbow plot, and how well the clusters match the
labels (adjusted Rand index and a cluster-vs-label table)."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler


def elbow(ks: list[int], inertias: list[float]) -> int:
    """The k farthest below the straight line from the first to the last point of the inertia curve."""
    x, y = np.asarray(ks, float), np.asarray(inertias, float)
    x, y = (x - x[0]) / (x[-1] - x[0]), (y - y[-1]) / (y[0] - y[-1] or 1.0)
    return int(ks[int(np.argmax(1 - x - y))])


def projections(features: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    scaled = StandardScaler().fit_transform(features)
    views = {"PCA": PCA(2, random_state=seed).fit_transform(scaled)}
    perplexity = float(min(30, max(2, (len(scaled) - 1) // 4)))
    views["t-SNE"] = TSNE(2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(scaled)
    try:
        import umap  # optional: umap-learn pulls numba, so it is not a dependency
    except ImportError:
        return views
    views["UMAP"] = umap.UMAP(random_state=seed).fit_transform(scaled)
    return views


def clusters(features: np.ndarray, targets: np.ndarray, labels: tuple[str, ...], seed: int = 0) -> dict:
    scaled = StandardScaler().fit_transform(features)
    pca = PCA(0.95, svd_solver="full", random_state=seed).fit(scaled)
    reduced = pca.transform(scaled)
    ks = list(range(1, min(len(reduced) - 1, max(10, 2 * len(labels))) + 1))
    inertias = [float(KMeans(k, n_init=4, random_state=seed).fit(reduced).inertia_) for k in ks]
    assigned = KMeans(len(labels), n_init=10, random_state=seed).fit_predict(reduced)
    table = np.zeros((len(labels), len(labels)), int)
    np.add.at(table, (assigned, targets), 1)
    return {
        "examples": int(len(targets)), "pca_components_95": int(pca.n_components_),
        "k": ks, "inertia": [round(v, 1) for v in inertias], "elbow_k": elbow(ks, inertias),
        "adjusted_rand_index": round(float(adjusted_rand_score(targets, assigned)), 4),
        "clusters_vs_labels": {"labels": list(labels), "rows_cluster_columns_label": table.tolist()},
    }
