"""Projection heads that map audio and text embeddings into the space where they are aligned.

AcuLa (arXiv 2512.04847; github janine714/AcuLA @781a96b, model.py `MLP`): Linear -> ReLU -> Dropout(0.2) ->
Linear, audio 384 -> 1024 -> 512 and text 2048 -> 1024 -> 512 (the text input width is the teacher's hidden size).
The submodule is named `layers` as upstream, so the head weights of an AcuLa checkpoint
(`audio_projection_mlp_state_dict`: layers.0.*, layers.3.*) load with `load_state_dict` unchanged.
"""

from __future__ import annotations

from torch import Tensor, nn


class ProjectionHead(nn.Module):
    """Two-layer MLP: [B, in_dim] -> [B, out_dim].

    Args:
        in_dim: input width (audio embedding or text-teacher hidden size).
        hidden: hidden width (AcuLa: 1024).
        out_dim: output width (AcuLa: 512).
        dropout: dropout probability after the ReLU, active in train mode only (AcuLa: 0.2).
    """

    def __init__(self, in_dim: int, hidden: int = 1024, out_dim: int = 512, dropout: float = 0.2):
        super().__init__()
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        self.layers = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                    nn.Linear(hidden, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        """[B, in_dim] float -> [B, out_dim]."""
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"ProjectionHead: input width {x.shape[-1]} but the head was built for {self.in_dim}; "
                             f"build it with in_dim={x.shape[-1]} (the encoder's or teacher's embedding width)")
        return self.layers(x)
