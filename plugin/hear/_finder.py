"""Makes `plugin.hear.<name>` importable for every registered encoder without a file per encoder.

hearvalidator imports the module it validates with `importlib.import_module(name)` (github
hearbenchmark/hear-validator 8c2cb84, hearvalidator/validate.py `import_model`). A finder appended to
sys.meta_path answers for `plugin.hear.<module>` when no file of that name exists: <module> is a registry name
with "-" written "_" (opera-gt -> plugin.hear.opera_gt), so encoders registered later, by entry point too, get
their module at once.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from functools import partial

PACKAGE = "plugin.hear"


def module_name(encoder: str) -> str:
    """Registry name -> module name under plugin.hear ("opera-gt" -> "opera_gt")."""
    return encoder.replace("-", "_")


def encoder_modules() -> dict[str, str]:
    """{module name: registry name} for every registered encoder (imports the registry)."""
    from adapters._registry import list_encoders

    return {module_name(n): n for n in list_encoders()}


def populate(module, encoder: str) -> None:
    """Give `module` the HEAR API bound to `encoder`: load_model, get_scene_embeddings, get_timestamp_embeddings."""
    from plugin.hear import _module

    module.ENCODER = encoder
    module.load_model = partial(_module.load_model, encoder=encoder)
    module.get_scene_embeddings = _module.get_scene_embeddings
    module.get_timestamp_embeddings = _module.get_timestamp_embeddings
    module.__doc__ = f"HEAR 2021 API module of the acula-zoo encoder {encoder!r} (plugin/hear/_module.py)."


class EncoderModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads `plugin.hear.<module>` for registered encoders (see module docstring)."""

    def find_spec(self, fullname, path=None, target=None):
        prefix = PACKAGE + "."
        short = fullname[len(prefix):] if fullname.startswith(prefix) else ""
        if not short or "." in short or short.startswith("_"):
            return None
        encoder = encoder_modules().get(short)
        if encoder is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=f"acula-zoo encoder {encoder}")

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module) -> None:
        populate(module, encoder_modules()[module.__name__.rsplit(".", 1)[1]])


def install() -> None:
    """Append one EncoderModuleFinder to sys.meta_path (after the path finder, so real files win); idempotent."""
    if not any(isinstance(f, EncoderModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(EncoderModuleFinder())
