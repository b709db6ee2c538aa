"""Control runs that tell a real alignment gain from an artefact of training.

`--reports shuffled` writes the same template reports as `--reports template` and then permutes them across the
training items (a seeded permutation): the text distribution, the teacher, the loss, the
schedule and the self-supervised term stay exactly the same, only the pairing between a recording and its own
clinical facts is broken. A gain that survives this control comes from training itself (the self-supervised
term, more steps on the audio), not from what the reports say about each recording.
"""

from __future__ import annotations

import random
from dataclasses import replace


def shuffle_reports(items: list, seed: int) -> list:
    """The items with their `report`s permuted among them (seeded); held-out items are not passed here."""
    order = list(range(len(items)))
    random.Random(f"shuffled-reports:{seed}").shuffle(order)
    return [replace(item, report=items[j].report) for item, j in zip(items, order)]
