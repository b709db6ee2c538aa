"""AlignConfig: every setting of an alignment run, typed, with the CLI built from it.

The defaults follow AcuLa (arXiv 2512.04847; github janine714/AcuLA @781a96b) where it is explicit: CKA
alignment loss, both lambdas 1.0, heads 1024 -> 512, AdamW with weight decay 1e-2, gradient
clipping 1.0, batch 24 with 2 accumulation steps. AcuLa fine-tunes the whole encoder at lr 1e-5; LoRA (the
default here) trains far fewer weights and takes a larger lr (1e-4). One deliberate departure: the heads'
dropout defaults to 0, not AcuLa's 0.2. Dropout adds independent noise to every row of both projections, which
pushes both batch Gram matrices towards a multiple of the identity, and linear CKA between two near-identity
Grams is close to 1: with dropout on, the batch CKA can be raised by amplifying the noise instead of aligning
(measured on the demo: training-mode batch CKA 0.70 where the same batch in eval mode gives 0.21, and no gain
on held-out items). `python -m align` exposes every field as
`--field-name` (booleans as `--flag / --no-flag`); `--config FILE.json` gives a base that flags override, and
`--recipe acula` a preset under both (defaults < recipe < config file < flags; align/recipes.py). The
resolved config is written next to the output as `train_config.json`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from align.recipes import RECIPE_CHOICES, apply_recipe, check_recipe
from benchmark_tasks._registry import DataContext, default_cache_dir

CHOICES = {"reports": ("template", "llm", "shuffled"), "loss": ("cka", "infonce", "siglip"),
           "ssl": ("mfd", "mam", "none"),
           "cka_variant": ("linear", "acula-feature-gram"), "mfd_distance": ("cosine", "mse"),
           "crop": ("random", "start"), "on_error": ("fail", "skip"), "teacher_dtype": ("fp32", "bf16", "fp16"),
           "teacher_pooling": ("mean", "last", "cls"), "recipe": RECIPE_CHOICES}


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class AlignConfig:
    """One alignment run. Paths are strings so the config round-trips through JSON unchanged."""

    # encoder
    encoder: str = _f("opera-gt", "registered encoder name (python evaluate.py --list-encoders)")
    tiny: bool = _f(False, "toy-width random-weight model of the same architecture (tests, demo)")
    weights: str | None = _f(None, "local checkpoint of the base encoder in its published format")
    trust_checkpoint: bool = _f(False, "allow checkpoints that hold pickled Python objects")
    device: str = _f("cpu", "cpu, cuda, cuda:1 (under torchrun each rank uses cuda:LOCAL_RANK)")
    # data
    tasks: str = _f("demo", "tasks whose items (and their metadata) are aligned, as evaluate.py --tasks")
    id_columns: str | None = _f(None, "csv manifests (--tasks csv:PATH): comma-separated metadata columns that "
                                      "identify a subject or recording and never enter a report (id, uuid, "
                                      "patient, subject, file, path, *_id ... are recognised by name already)")
    splits: str = _f("train", "comma-separated splits used for training (test needs --allow-test-items)")
    val_split: str | None = _f("val", "split for the held-out alignment loss at the end ('' = none)")
    allow_test_items: bool = _f(False, "keep items that are in the test split of some task (leakage; recorded)")
    guard: str | None = _f(None, "csv:PATH[,csv:PATH...]: manifests whose test items and test subjects (group "
                                 "column) are also kept out of alignment (align.guard)")
    allow_unguarded: bool = _f(False, "align even if the test split of a task of an aligned dataset or of a --guard "
                                      "manifest cannot be read (the unguarded tasks are recorded)")
    on_error: str = _f("fail", "unreadable audio among the alignment items (all decoded before step 0): stop with "
                               "the list, or leave them out (both write OUT/errors.json)")
    data_root: str | None = _f(None, "folder with one sub-folder per dataset")
    opera_root: str | None = _f(None, "OPERA checkout with its published split files")
    cache_dir: str | None = _f(None, "demo data, text-embedding and report caches (default $ACULA_ZOO_CACHE "
                                     "or ~/.cache/acula_zoo)")
    train_seconds: float | None = _f(None, "training clip length; default the encoder's clip_seconds, else 8 "
                                           "(keep it for --ssl mfd: the encoder's frames must tile the clip)")
    crop: str = _f("random", "where longer clips are cropped: seeded random offset per epoch, or the start")
    cache_audio: bool = _f(True, "keep decoded clips in memory after their first use")
    num_workers: int = _f(0, "DataLoader worker processes for audio decoding")
    # reports and teacher
    reports: str = _f("template", "report writer: offline templates, an OpenAI-compatible LLM endpoint, or "
                                  "'shuffled' (a control: template reports permuted across training items)")
    report_seed: int = _f(0, "template choice seed of the template writer")
    llm_base_url: str | None = _f(None, "--reports llm: endpoint, e.g. http://127.0.0.1:8000/v1")
    llm_model: str | None = _f(None, "--reports llm: model name")
    teacher: str | None = _f(None, "text teacher checkpoint dir or cached hub name (default: offline MiniLM)")
    teacher_max_length: int = _f(256, "tokens per report, prefix included")
    teacher_dtype: str = _f("fp32", "teacher weights dtype (bf16 halves a 4B teacher's memory); pooling runs in fp32")
    teacher_pooling: str = _f("mean", "sentence embedding over real tokens: mean, last (last real token; causal LMs) "
                                      "or cls (first token; BERT-style encoders)")
    teacher_prefix: str = _f("", "instruction text put in front of every report (part of the cache key)")
    teacher_batch_size: int = _f(32, "reports per teacher forward pass")
    teacher_device: str | None = _f(None, "where the teacher runs (default: --device); it is freed before training")
    recipe: str | None = _f(None, "preset of published settings under the config file and flags (align/recipes.py;"
                                  " acula = AcuLa arXiv 2512.04847, needs --teacher)")
    # what is trained
    full_finetune: bool = _f(False, "train every encoder weight instead of LoRA (AcuLa's setting)")
    lora_rank: int = _f(8, "LoRA rank r")
    lora_alpha: float = _f(16.0, "LoRA alpha (the update is scaled by alpha / r)")
    lora_dropout: float = _f(0.0, "dropout on the LoRA branch input")
    head_hidden: int = _f(1024, "projection-head hidden width (AcuLa 1024)")
    head_out: int = _f(512, "projection width (AcuLa 512)")
    head_dropout: float = _f(0.0, "projection-head dropout (AcuLa 0.2; see the module docstring)")
    # objective
    loss: str = _f("cka", "alignment loss")
    cka_variant: str = _f("linear", "CKA formula (see align.losses.CKALoss)")
    ssl: str = _f("mfd", "self-supervised term: masked-frame distillation from the frozen base (any encoder), "
                         "OPERA-GT's masked reconstruction (mam), or none")
    lambda_align: float = _f(1.0, "weight of the alignment loss")
    lambda_ssl: float = _f(1.0, "weight of the self-supervised term")
    mfd_mask_ratio: float = _f(0.5, "mfd: fraction of the clip silenced")
    mfd_span_seconds: float = _f(0.2, "mfd: length of each silenced span")
    mfd_distance: str = _f("cosine", "mfd: per-frame distance")
    mam_mask_ratio: float = _f(0.7, "mam: fraction of spectrogram patches masked (OPERA-GT: 0.7)")
    # optimisation
    steps: int = _f(1000, "optimizer steps")
    epochs: float | None = _f(None, "passes over the training items instead of --steps: steps = ceil(epochs * "
                                    "floor(items / batch_size) / grad_accum), computed at run start")
    batch_size: int = _f(24, "clips per micro-batch, summed over all processes (AcuLa 24)")
    grad_accum: int = _f(2, "micro-batches per optimizer step (AcuLa 2)")
    lr: float = _f(1e-4, "peak learning rate of the encoder weights (LoRA or full)")
    head_lr: float | None = _f(None, "peak learning rate of heads and loss parameters (default: lr)")
    weight_decay: float = _f(0.01, "AdamW weight decay (not applied to loss temperatures/biases)")
    warmup_steps: int = _f(100, "linear warm-up steps, then cosine decay to 0 at `steps`")
    clip_grad: float = _f(1.0, "gradient-norm clipping")
    seed: int = _f(0, "seed of initialisation, data order, crops and masks")
    # output
    out: str | None = _f(None, "output folder (default runs/align/<encoder>[-tiny])")
    checkpoint_every: int = _f(100, "optimizer steps between checkpoints (0 = none)")
    keep_checkpoints: int = _f(2, "newest checkpoints kept")
    resume: bool = _f(False, "continue from the newest checkpoint in OUT/checkpoints")
    progress: bool = _f(True, "progress bar with the loss terms")

    def __post_init__(self) -> None:
        if self.recipe == "none":
            self.recipe = None
        for name, options in CHOICES.items():
            if getattr(self, name) not in options and not (name == "recipe" and self.recipe is None):
                raise ValueError(f"AlignConfig.{name} = {getattr(self, name)!r}; choose from {options}")
        positive = ("steps", "batch_size", "grad_accum", "lora_rank", "head_hidden", "head_out")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"AlignConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError(f"AlignConfig.epochs must be > 0, got {self.epochs}")
        if self.teacher_batch_size < 1:
            raise ValueError(f"AlignConfig.teacher_batch_size must be >= 1, got {self.teacher_batch_size}")
        check_recipe(self)
        if self.reports == "llm" and not (self.llm_base_url and self.llm_model):
            raise ValueError("AlignConfig: --reports llm needs --llm-base-url and --llm-model")
        if self.tiny and self.weights:
            raise ValueError("AlignConfig: --tiny builds random weights; drop --weights or --tiny")
        if "test" in self.split_list() and not self.allow_test_items:
            raise ValueError("AlignConfig.splits includes 'test': aligning on test items leaks them into the "
                             "benchmark; pass --allow-test-items if that is really intended")

    def split_list(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.splits.split(",") if s.strip())

    def encoder_config(self) -> str:
        return "tiny" if self.tiny else "official"

    def out_dir(self) -> Path:
        return Path(self.out) if self.out else default_out_dir(self.encoder, self.tiny)

    def cache_root(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()

    def data_context(self) -> DataContext:
        """Where the alignment data lives (--data-root, --opera-root, the cache)."""
        return DataContext(data_root=Path(self.data_root) if self.data_root else None,
                           opera_root=Path(self.opera_root) if self.opera_root else None, cache_dir=self.cache_root())

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AlignConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"AlignConfig: unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**apply_recipe(d))  # a named recipe fills the fields d leaves out


def default_out_dir(encoder: str, tiny: bool = False, root: str | Path = "runs/align") -> Path:
    """runs/align/<encoder>[-tiny]: where `python -m align` writes and `evaluate.py --aligned` looks."""
    return Path(root) / (encoder + ("-tiny" if tiny else ""))


# -- CLI -------------------------------------------------------------------------------------------------------
def _type_of(f) -> type:
    text = str(f.type)
    for name, typ in (("bool", bool), ("int", int), ("float", float)):
        if text.startswith(name):
            return typ
    return str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One `--field-name` per AlignConfig field, default None (= keep the config's value)."""
    parser.add_argument("--config", type=Path, help="JSON file with AlignConfig fields; flags override it")
    for f in fields(AlignConfig):
        flag = "--" + f.name.replace("_", "-")
        typ, help_text = _type_of(f), f.metadata.get("help", "")
        default = f.default if f.default is not MISSING else None
        help_text += f" (default: {default})" if default not in (None, "") else ""
        if typ is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, type=typ, default=None, choices=CHOICES.get(f.name),
                                help=help_text)


def config_from_args(args: argparse.Namespace) -> AlignConfig:
    """AlignConfig from defaults, then `--recipe`'s preset, then `--config FILE`, then the flags given."""
    base = json.loads(Path(args.config).read_text()) if getattr(args, "config", None) else {}
    for f in fields(AlignConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            base[f.name] = value
    if base.get("val_split") == "":
        base["val_split"] = None
    return AlignConfig.from_dict(base)
