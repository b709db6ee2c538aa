"""Alignment objectives: CKA (AcuLa), InfoNCE (CLIP), SigLIP, and a masked-frame self-distillation term.

Every loss is an nn.Module whose forward returns a dict of named terms; "loss" is the differentiable total, the
other entries are detached scalars for logging.

- CKALoss: 1 - linear CKA (Kornblith et al. 2019, arXiv 1905.00414) between a batch of audio and text projections,
  the alignment loss of AcuLa (arXiv 2512.04847; github janine714/AcuLA @781a96b, model.py
  `compute_alignment_loss`). Note: upstream centres both batches but then compares the *feature* Gram matrices
  <Xc^T Xc, Yc^T Yc>_F / (||Xc^T Xc||_F ||Yc^T Yc||_F), which needs equal widths and is not invariant to an
  orthogonal transform of one side; linear CKA is ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), computed
  here through the B x B sample Grams. `CKALoss(variant="acula-feature-gram")` reproduces upstream exactly.
- InfoNCELoss: symmetric cross-entropy over cosine logits (CLIP, arXiv 2103.00020), learnable temperature.
- SigLIPLoss: pairwise sigmoid loss (SigLIP, arXiv 2303.15343), learnable scale t and bias b.
- MaskedFrameDistillation: a self-supervised term for any encoder (see its docstring).
- AlignmentObjective: lambda_align * align + lambda_ssl * ssl, as AcuLa's total (both lambdas 1.0 upstream).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check_pair(name: str, audio: Tensor, text: Tensor, same_width: bool) -> None:
    if audio.dim() != 2 or text.dim() != 2 or audio.shape[0] != text.shape[0]:
        raise ValueError(f"{name}: expected audio [B, D1] and text [B, D2] with the same B, got "
                         f"{tuple(audio.shape)} and {tuple(text.shape)}")
    if audio.shape[0] < 2:
        raise ValueError(f"{name}: needs a batch of at least 2 pairs, got {audio.shape[0]}")
    if same_width and audio.shape[1] != text.shape[1]:
        raise ValueError(f"{name}: audio width {audio.shape[1]} != text width {text.shape[1]}; project both "
                         f"to one width with align.heads.ProjectionHead")


def linear_cka(x: Tensor, y: Tensor, eps: float = 1e-12) -> Tensor:
    """Linear CKA of [B, D1] and [B, D2] (rows = the same B examples): a scalar in [0, 1].

    Invariant to orthogonal transforms and isotropic scaling of either side; 1 when y = x @ Q * s.
    """
    x = x.float() - x.float().mean(0, keepdim=True)
    y = y.float() - y.float().mean(0, keepdim=True)
    k, l = x @ x.T, y @ y.T  # [B, B] Grams of centred data (already H K H)
    return (k * l).sum() / (k.norm() * l.norm()).clamp_min(eps)


def feature_gram_cka(x: Tensor, y: Tensor, eps: float = 1e-12) -> Tensor:
    """AcuLa's upstream formula: cosine between the centred feature Grams Xc^T Xc and Yc^T Yc (needs D1 == D2)."""
    x = x.float() - x.float().mean(0, keepdim=True)
    y = y.float() - y.float().mean(0, keepdim=True)
    gx, gy = x.T @ x, y.T @ y  # [D, D]
    return (gx * gy).sum() / (gx.norm() * gy.norm()).clamp_min(eps)


class CKALoss(nn.Module):
    """1 - CKA between audio [B, D1] and text [B, D2] projections.

    Args:
        variant: "linear" (default, Kornblith linear CKA) or "acula-feature-gram" (upstream's formula, D1 == D2).

    Returns:
        {"loss": 1 - cka, "cka": cka (detached)}; loss in [0, 1].
    """

    VARIANTS = {"linear": linear_cka, "acula-feature-gram": feature_gram_cka}

    def __init__(self, variant: str = "linear"):
        super().__init__()
        if variant not in self.VARIANTS:
            raise ValueError(f"CKALoss: variant {variant!r} not in {sorted(self.VARIANTS)}")
        self.variant = variant

    def forward(self, audio: Tensor, text: Tensor) -> dict[str, Tensor]:
        _check_pair("CKALoss", audio, text, same_width=self.variant != "linear")
        cka = self.VARIANTS[self.variant](audio, text)
        return {"loss": 1.0 - cka, "cka": cka.detach()}


class InfoNCELoss(nn.Module):
    """Symmetric InfoNCE over the in-batch pairs (row i of audio matches row i of text).

    logits = cos(audio_i, text_j) / T; loss = (CE(logits, diag) + CE(logits^T, diag)) / 2. Negatives are the
    other pairs of the local batch (no cross-process gathering).

    Args:
        init_temperature: initial T (CLIP: 0.07).
        learnable: T is trained as a parameter `log_temperature` (otherwise a fixed buffer).
        min_temperature, max_temperature: the clamp on T (CLIP caps the logit scale at 100, i.e. T >= 0.01); at
            the clamp the gradient of T is zero, as in CLIP.
    """

    def __init__(self, init_temperature: float = 0.07, learnable: bool = True, min_temperature: float = 0.01,
                 max_temperature: float = 1.0):
        super().__init__()
        if not 0 < min_temperature <= init_temperature <= max_temperature:
            raise ValueError(f"InfoNCELoss: need 0 < min_temperature <= init_temperature <= max_temperature, got "
                             f"{min_temperature}, {init_temperature}, {max_temperature}")
        log_t = torch.tensor(math.log(init_temperature))
        if learnable:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)
        self.log_bounds = (math.log(min_temperature), math.log(max_temperature))

    def temperature(self) -> Tensor:
        return self.log_temperature.clamp(*self.log_bounds).exp()

    def forward(self, audio: Tensor, text: Tensor) -> dict[str, Tensor]:
        _check_pair("InfoNCELoss", audio, text, same_width=True)
        t = self.temperature()
        logits = F.normalize(audio.float(), dim=-1) @ F.normalize(text.float(), dim=-1).T / t  # [B, B]
        target = torch.arange(logits.shape[0], device=logits.device)
        a2t, t2a = F.cross_entropy(logits, target), F.cross_entropy(logits.T, target)
        return {"loss": (a2t + t2a) / 2, "audio_to_text": a2t.detach(), "text_to_audio": t2a.detach(),
                "temperature": t.detach()}


class SigLIPLoss(nn.Module):
    """Pairwise sigmoid loss: -1/B * sum_ij log sigmoid(z_ij * (t * cos(audio_i, text_j) + b)), z = +1 on the
    diagonal and -1 elsewhere. t = exp(log_t) and b are learnable (SigLIP init: t = 10, b = -10)."""

    def __init__(self, init_t: float = 10.0, init_b: float = -10.0, learnable: bool = True):
        super().__init__()
        log_t, b = torch.tensor(math.log(init_t)), torch.tensor(float(init_b))
        if learnable:
            self.log_t, self.bias = nn.Parameter(log_t), nn.Parameter(b)
        else:
            self.register_buffer("log_t", log_t)
            self.register_buffer("bias", b)

    def forward(self, audio: Tensor, text: Tensor) -> dict[str, Tensor]:
        _check_pair("SigLIPLoss", audio, text, same_width=True)
        t = self.log_t.exp()
        logits = F.normalize(audio.float(), dim=-1) @ F.normalize(text.float(), dim=-1).T * t + self.bias
        z = 2 * torch.eye(logits.shape[0], device=logits.device) - 1
        loss = -F.logsigmoid(z * logits).sum() / logits.shape[0]
        return {"loss": loss, "t": t.detach(), "b": self.bias.detach()}


# -------------------------------------------------------------------------------------------------------------
# Self-supervised term: masked-frame distillation from the frozen base encoder
# -------------------------------------------------------------------------------------------------------------
def make_time_mask(batch: int, num_samples: int, mask_ratio: float, span_samples: int,
                   generator: torch.Generator | None = None, device=None) -> Tensor:
    """Random time mask over waveforms: [B, S] bool, True = masked.

    The clip is cut into blocks of `span_samples`; round(mask_ratio * blocks) of them (at least one when
    mask_ratio > 0) are masked per clip, chosen independently per clip with `generator`.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"make_time_mask: mask_ratio must be in [0, 1), got {mask_ratio}")
    span = max(1, int(span_samples))
    blocks = math.ceil(num_samples / span)
    k = 0 if mask_ratio == 0 else max(1, round(mask_ratio * blocks))
    order = torch.rand(batch, blocks, generator=generator).argsort(dim=1)
    block_mask = order < k  # exactly k True per row, at random block positions
    return block_mask.repeat_interleave(span, dim=1)[:, :num_samples].to(device)


def apply_time_mask(wav: Tensor, sample_mask: Tensor, fill: float = 0.0) -> Tensor:
    """wav [B, S] with the masked samples set to `fill` (silence)."""
    return wav.masked_fill(sample_mask.to(wav.device), fill)


def frame_mask_from_samples(sample_mask: Tensor, num_frames: int, min_coverage: float = 0.5) -> Tensor:
    """[B, S] sample mask -> [B, T] frame mask: a frame is masked when >= min_coverage of its samples are.

    Assumes the encoder's T frames tile the clip evenly and in time order (frame t covers samples
    [t*S/T, (t+1)*S/T)); an encoder whose frames are not time-ordered must map the mask itself.
    """
    coverage = F.adaptive_avg_pool1d(sample_mask.float().unsqueeze(1), num_frames).squeeze(1)  # [B, T]
    return coverage >= min_coverage


class MaskedFrameDistillation(nn.Module):
    """Masked-frame self-distillation, a self-supervised term that works for any encoder.

    The student (the encoder being adapted, e.g. with LoRA) sees the waveform with random time spans silenced;
    the frozen base encoder sees the clean waveform. At the masked frames only, the student must reproduce the
    base encoder's features, so it has to infer them from context (like data2vec with a frozen teacher), and
    the term also keeps the adapted encoder close to what the base encoder computes. Recipe:

        sample_mask = term.make_mask(wav, sample_rate)          # [B, S] bool
        student = encoder.frames(apply_time_mask(wav, sample_mask))   # [B, T, D], with grad
        with torch.no_grad(): teacher = base.frames(wav)        # [B, T, D]
        frame_mask = frame_mask_from_samples(sample_mask, student.shape[1])
        terms = term(student, teacher, frame_mask)

    Args:
        mask_ratio: fraction of the clip silenced (in [0, 1)).
        span_seconds: length of each masked span.
        distance: "cosine" (1 - cos per frame) or "mse" (squared error of the per-frame standardised
            features, i.e. both layer-normed without affine, averaged over D).
    """

    def __init__(self, mask_ratio: float = 0.5, span_seconds: float = 0.2, distance: str = "cosine"):
        super().__init__()
        if distance not in ("cosine", "mse"):
            raise ValueError(f"MaskedFrameDistillation: distance {distance!r} not in ('cosine', 'mse')")
        self.mask_ratio, self.span_seconds, self.distance = mask_ratio, span_seconds, distance

    def make_mask(self, wav: Tensor, sample_rate: int, generator: torch.Generator | None = None) -> Tensor:
        """[B, S] waveform at `sample_rate` -> [B, S] bool time mask with this term's ratio and span."""
        return make_time_mask(wav.shape[0], wav.shape[1], self.mask_ratio,
                              int(round(self.span_seconds * sample_rate)), generator, wav.device)

    def forward(self, student_frames: Tensor, teacher_frames: Tensor, frame_mask: Tensor) -> dict[str, Tensor]:
        """student [B, T, D] (masked input), teacher [B, T, D] (clean input, no grad), frame_mask [B, T] bool.

        Returns:
            {"loss": mean distance over masked frames (0 when none are masked), "masked_fraction": of frames}.
        """
        if student_frames.shape != teacher_frames.shape or frame_mask.shape != student_frames.shape[:2]:
            raise ValueError(f"MaskedFrameDistillation: student {tuple(student_frames.shape)}, teacher "
                             f"{tuple(teacher_frames.shape)} and mask {tuple(frame_mask.shape)} must be "
                             f"[B, T, D], [B, T, D], [B, T]; run both encoders on clips of the same length")
        s, t = student_frames.float(), teacher_frames.detach().float()
        if self.distance == "cosine":
            per_frame = 1.0 - F.cosine_similarity(s, t, dim=-1)  # [B, T]
        else:
            d = s.shape[-1]
            per_frame = (F.layer_norm(s, (d,)) - F.layer_norm(t, (d,))).pow(2).mean(-1)
        mask = frame_mask.to(per_frame.device, torch.bool)
        n = mask.sum()
        loss = per_frame[mask].sum() / n if n > 0 else per_frame.sum() * 0.0
        return {"loss": loss, "masked_fraction": (n / mask.numel()).detach().float()}


class AlignmentObjective(nn.Module):
    """lambda_align * align_loss(audio, text)["loss"] + lambda_ssl * ssl.

    Args:
        align_loss: CKALoss, InfoNCELoss or SigLIPLoss (its parameters, e.g. a temperature, are this module's).
        lambda_align: weight of the alignment term (AcuLa: 1.0).
        ssl_loss: optional self-supervised module (e.g. MaskedFrameDistillation), called with `ssl` as kwargs.
        lambda_ssl: weight of the self-supervised term (AcuLa: 1.0 for its masked reconstruction).
    """

    def __init__(self, align_loss: nn.Module, lambda_align: float = 1.0, ssl_loss: nn.Module | None = None,
                 lambda_ssl: float = 1.0):
        super().__init__()
        self.align_loss, self.ssl_loss = align_loss, ssl_loss
        self.lambda_align, self.lambda_ssl = float(lambda_align), float(lambda_ssl)

    def forward(self, audio: Tensor, text: Tensor, ssl: Tensor | dict | None = None) -> dict[str, Tensor]:
        """audio [B, D], text [B, D] projections; ssl: None, a precomputed scalar term (e.g. OPERA-GT's
        masked-spectrogram reconstruction loss), or kwargs for `ssl_loss`.

        Returns:
            {"loss": total, "align": align term, "ssl": ssl term (0 without one), plus "align/<name>" and
            "ssl/<name>" detached sub-terms}.
        """
        terms = self.align_loss(audio, text)
        out = {"align": terms["loss"], **{f"align/{k}": v for k, v in terms.items() if k != "loss"}}
        if ssl is None:
            if self.ssl_loss is not None and self.lambda_ssl != 0:
                raise ValueError("AlignmentObjective: an ssl_loss is configured but no ssl inputs were passed; "
                                 "pass ssl={'student_frames': ..., 'teacher_frames': ..., 'frame_mask': ...}")
            out["ssl"] = terms["loss"].new_zeros(())
        elif isinstance(ssl, Tensor):
            out["ssl"] = ssl
        else:
            if self.ssl_loss is None:
                raise ValueError("AlignmentObjective: ssl inputs given but no ssl_loss configured")
            sterms = self.ssl_loss(**ssl)
            out["ssl"] = sterms["loss"]
            out.update({f"ssl/{k}": v for k, v in sterms.items() if k != "loss"})
        out["loss"] = self.lambda_align * out["align"] + self.lambda_ssl * out["ssl"]
        return out
