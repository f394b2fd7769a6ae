"""What the Generate tab and its sampling lab keep per visitor (``Visitor.state_of(GenerateView)``)."""

from __future__ import annotations

from dataclasses import dataclass

from charlm.lessons.step_by_step import OneCharacter


@dataclass
class GenerateView:
    generation: int = 0  # bumped by Stop: a running generation sees it changed and ends
    last_seed: int | None = None  # the seed of their latest generation ("Keep this seed" keeps it; the lab too)
    # One character's run: (the settings it was made with, the stepper), replaced when the settings change
    char_steps: tuple[tuple, OneCharacter] | None = None
