# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The Information-Bottleneck (IB) training term of LTM.

`Efficient Visual Transformer by Learnable Token Merging
<https://arxiv.org/abs/2407.15219>`_ motivates token merging by the IB
principle and trains with a variational upper bound of the IB loss. This
follows the released training script's description (``specs/ltm.md``
section 1): soft assignments of L2-normalised pooled features to K
feature centroids, ``phi_k(v) = softmax_k(-beta ||v / |v| - c_k||^2)``;
centroids re-fitted by k-means and a class-conditional table
``Q[k, c]`` (mean membership of class-c samples in cluster k) re-estimated
once per epoch; weight 0.1, switched on after 30 % of the epochs. Only the
term ``-sum_k phi_k(v) log Q[k, y]`` depends on the model, so it is the one
computed here (the input-clustering terms of the bound are constants).

The schedule (collecting features, re-fitting, switching on) belongs to
:class:`~sparse_backbones.engine.LTMIBHook`; the head that evaluates the
term on its pre-logits is
:class:`~sparse_backbones.models.LTMIBClsHead`.
"""
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather

from ..registry import MODELS, register_module


def spherical_kmeans(features: torch.Tensor,
                     num_clusters: int,
                     num_iters: int = 20,
                     seed: int = 0) -> torch.Tensor:
    """k-means of L2-normalised vectors under squared Euclidean distance.

    Initial centroids are distinct samples drawn with a fixed seed (with
    repetition only when there are fewer samples than clusters); a cluster
    that loses all its members keeps its centroid.

    Args:
        features (Tensor): (n, D) vectors; normalised here.
        num_clusters (int): K.
        num_iters (int): Lloyd iterations. Defaults to 20.
        seed (int): Seed of the initial draw. Defaults to 0.

    Returns:
        Tensor: (K, D) unit-norm centroids.
    """
    if features.ndim != 2 or not len(features):
        raise ValueError(f'k-means needs a non-empty (n, D) tensor, got '
                         f'shape {tuple(features.shape)}')
    x = F.normalize(features.float(), dim=1)
    generator = torch.Generator().manual_seed(seed)
    n = len(x)
    if n >= num_clusters:
        first = torch.randperm(n, generator=generator)[:num_clusters]
    else:
        first = torch.randint(n, (num_clusters, ), generator=generator)
    centroids = x[first.to(x.device)].clone()
    for _ in range(num_iters):
        # On the sphere the nearest centroid is the most similar one.
        assignment = (x @ centroids.T).argmax(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, x)
        counts = torch.bincount(assignment, minlength=num_clusters)
        filled = counts > 0
        centroids[filled] = F.normalize(sums[filled], dim=1)
    return centroids


@register_module(MODELS)
class LTMIBLoss(nn.Module):
    """``loss_weight * mean_i(-sum_k phi_k(v_i) log Q[k, y_i])``.

    State (buffers, saved in checkpoints so that resuming keeps it):
    ``centroids`` (K, D), ``class_table`` Q (K, num_classes) and
    ``active``. Until :meth:`refit` has run and ``active`` is set, the
    term is not used.

    Args:
        num_classes (int): Classes of the head.
        feature_dims (int): Channels D of the pooled features.
        num_clusters (int, optional): K. Defaults to
            ``min(1000, 4 * num_classes)``: the released script's 1000 for
            ImageNet, fewer for small data sets.
        beta (float): Sharpness of the soft assignment. Defaults to 1.
        loss_weight (float): Weight of the term. Defaults to 0.1.
        kmeans_iters (int): Lloyd iterations per re-fit. Defaults to 20.
        max_bank_size (int): Features kept per epoch for the re-fit (per
            process; later batches of the epoch are not stored).
            Defaults to 65536.
    """

    def __init__(self,
                 num_classes: int,
                 feature_dims: int,
                 num_clusters: Optional[int] = None,
                 beta: float = 1.0,
                 loss_weight: float = 0.1,
                 kmeans_iters: int = 20,
                 max_bank_size: int = 65536) -> None:
        super().__init__()
        if num_clusters is None:
            num_clusters = min(1000, 4 * num_classes)
        if num_clusters < 1 or num_classes < 1 or feature_dims < 1:
            raise ValueError(
                f'num_clusters, num_classes and feature_dims must be >= 1, '
                f'got {num_clusters}, {num_classes}, {feature_dims}')
        if loss_weight < 0 or beta <= 0:
            raise ValueError(f'need loss_weight >= 0 and beta > 0, got '
                             f'{loss_weight} and {beta}')
        self.num_classes = num_classes
        self.num_clusters = num_clusters
        self.beta = beta
        self.loss_weight = loss_weight
        self.kmeans_iters = kmeans_iters
        self.max_bank_size = max_bank_size
        self.register_buffer('centroids',
                             torch.zeros(num_clusters, feature_dims))
        self.register_buffer(
            'class_table',
            torch.full((num_clusters, num_classes), 1.0 / num_clusters))
        self.register_buffer('active', torch.tensor(False))
        self.collecting = False
        self._bank: List[torch.Tensor] = []
        self._bank_labels: List[torch.Tensor] = []

    # ------------------------------------------------------------ the term
    def assignments(self, features: torch.Tensor) -> torch.Tensor:
        """phi: (n, K) soft assignments of (n, D) features."""
        x = F.normalize(features, dim=1)
        distances = (x.unsqueeze(1) - self.centroids.to(x.dtype)).square()
        return (-self.beta * distances.sum(-1)).softmax(dim=1)

    def forward(self, features: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """The weighted IB term of a batch.

        Args:
            features (Tensor): (B, D) pooled features (pre-logits).
            labels (Tensor): (B, ) class indices.
        """
        if labels.ndim != 1 or len(labels) != len(features):
            raise ValueError(f'LTMIBLoss needs one class index per sample; '
                             f'got labels of shape {tuple(labels.shape)} for '
                             f'{len(features)} features')
        phi = self.assignments(features)
        log_table = self.class_table.clamp_min(1e-8).log()  # (K, classes)
        term = -(phi * log_table[:, labels].T.to(phi.dtype)).sum(dim=1)
        return self.loss_weight * term.mean()

    # ------------------------------------------------------- the re-fit
    def start_collecting(self) -> None:
        """Store the features of the coming training iterations."""
        self.collecting = True
        self._bank, self._bank_labels = [], []

    def collect(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Keep a batch of (detached) features for the next re-fit."""
        if not self.collecting:
            return
        stored = sum(len(f) for f in self._bank)
        room = self.max_bank_size - stored
        if room > 0:
            self._bank.append(features[:room].detach().float().cpu())
            self._bank_labels.append(labels[:room].detach().cpu())

    @torch.no_grad()
    def refit(self) -> int:
        """k-means on the collected features (of all processes), then the
        class table; stops collecting.

        Returns:
            int: Number of features used.

        Raises:
            RuntimeError: when nothing was collected.
        """
        self.collecting = False
        if not self._bank:
            raise RuntimeError(
                'LTMIBLoss.refit found no features: the head stores them '
                'only between start_collecting() and refit(), during '
                'training iterations (LTMIBHook does this)')
        features = torch.cat(self._bank)
        labels = torch.cat(self._bank_labels)
        self._bank, self._bank_labels = [], []
        # Every process fits the same centroids from the same data.
        features = torch.cat(all_gather(features.to(self.centroids.device)))
        labels = torch.cat(all_gather(labels.to(self.centroids.device)))
        self.centroids.copy_(
            spherical_kmeans(features, self.num_clusters,
                             self.kmeans_iters).to(self.centroids))
        phi = self.assignments(features)  # (n, K)
        table = torch.full_like(self.class_table, 1.0 / self.num_clusters)
        sums = torch.zeros_like(table.T).index_add_(0, labels, phi)
        counts = torch.bincount(labels, minlength=self.num_classes)
        seen = counts > 0
        table[:, seen] = (sums[seen] / counts[seen, None]).T
        self.class_table.copy_(table)
        return len(features)
