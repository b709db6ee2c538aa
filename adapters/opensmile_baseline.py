"""openSMILE baselines: eGeMAPS v02 and ComParE 2016 functionals (weight-free).

Paper: Eyben et al., "The Geneva Minimalistic Acoustic Parameter Set (GeMAPS)", IEEE TAC 2016; Schuller et al.,
ComParE 2016. Code: github audeering/opensmile-python (the wheel ships the SMILExtract binary; runs offline).
OPERA's "Opensmile" column uses functionals of this kind as clip features.

`embed` returns the functionals ([B, 88] or [B, 6373]); `frames` returns the low-level descriptors
([B, T, 25] or [B, T, 65], 10 ms hop). Clips shorter than 0.5 s are repeated up to 0.5 s because openSMILE fills
too-short segments with NaN.

Long clips: openSMILE buffers every low-level descriptor frame until the functionals are taken at the end
(measured: eGeMAPS +0.23 GB peak for a 10 min clip, 6x the waveform), so `spec.max_seconds` is 120 s (ComParE
+0.09 GB, eGeMAPS +0.07 GB). Longer clips are cut into 120 s segments whose functionals are averaged, weighted by
length (AudioEncoder.embed_any_length): exact for mean-type functionals, an approximation for the others
(percentiles, ranges, slopes).

Native rate (`with_native_rate(True)`, the default on csv tasks): openSMILE reads the file at its own rate (its
descriptors are defined in Hz and seconds, so they keep their meaning at any rate) instead of after upsampling to
16 kHz, which adds nothing above the recording's Nyquist frequency but shifts band energies and spectral shape.
"""

from __future__ import annotations

import warnings
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from adapters._base import AudioEncoder
from adapters._registry import register_encoder
from adapters._spec import EncoderSpec


class _OpenSmileBase(AudioEncoder):
    feature_set_name: str = ""
    supports_native_rate = True

    def _smile(self, level: str):
        import opensmile

        return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, self.feature_set_name),
                               feature_level=getattr(opensmile.FeatureLevel, level))

    @cached_property
    def _functionals(self):
        return self._smile("Functionals")

    @cached_property
    def _lld(self):
        return self._smile("LowLevelDescriptors")

    def _run(self, smile, wav: Tensor) -> list[np.ndarray]:
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for clip in wav.detach().cpu().numpy().astype(np.float32):
                values = smile.process_signal(clip, self.spec.sample_rate).to_numpy(dtype=np.float32)
                out.append(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0))
        return out

    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1] at spec.sample_rate -> [B, T, D_lld] low-level descriptors (10 ms hop)."""
        return torch.from_numpy(np.stack(self._run(self._lld, wav)))

    def embed(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1] at spec.sample_rate -> [B, D] functionals."""
        return torch.from_numpy(np.concatenate(self._run(self._functionals, wav), axis=0))

    def frontend_params(self) -> dict:
        import opensmile

        return {**super().frontend_params(), "feature_set": self.feature_set_name,
                "opensmile": opensmile.__version__}


@register_encoder("opensmile-egemaps")
class OpenSmileEGeMAPS(_OpenSmileBase):
    """eGeMAPS v02 functionals (88-d); LLDs 25-d."""

    feature_set_name = "eGeMAPSv02"
    spec = EncoderSpec(
        name="opensmile-egemaps", sample_rate=16000, embed_dim=88, frame_dim=25, length_policy="any",
        min_seconds=0.5, max_seconds=120.0,  # openSMILE buffers all LLD frames: bounded per 120 s segment
        long_clips="segments", requires_weights=False, paper="doi:10.1109/TAFFC.2015.2457417",
        repo="github audeering/opensmile-python", license="audEERING research license (opensmile)",
        weights="none (weight-free)", params_published="0")
    configs = {"official": {}, "tiny": {}}


@register_encoder("opensmile-compare")
class OpenSmileComParE(_OpenSmileBase):
    """ComParE 2016 functionals (6373-d); LLDs 65-d."""

    feature_set_name = "ComParE_2016"
    spec = EncoderSpec(
        name="opensmile-compare", sample_rate=16000, embed_dim=6373, frame_dim=65, length_policy="any",
        min_seconds=0.5, max_seconds=120.0,  # openSMILE buffers all LLD frames: bounded per 120 s segment
        long_clips="segments", requires_weights=False, paper="doi:10.21437/Interspeech.2016-129",
        repo="github audeering/opensmile-python", license="audEERING research license (opensmile)",
        weights="none (weight-free)", params_published="0")
    configs = {"official": {}, "tiny": {}}
