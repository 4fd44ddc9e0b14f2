"""A scripted judge whose informativeness answers are broken at given rates (test double).

Malformed answers are cut off mid-list; wrong-count answers use the id-keyed form and leave the
last claim out. Every other request gets the scripted server's usual answer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from factbench.testing.extra_kinds import blocks, numbered

Responder = Callable[[dict[str, Any], str], str]


def faulty_informativeness(malformed: float, wrong_count: float, seed: int = 5) -> Responder:
    """A `ScriptedState.responder`: informativeness answers broken at these rates (0..1)."""
    from factbench.testing.scripted_server import ScriptedState, scripted_content

    plain = ScriptedState()
    rng = random.Random(seed)

    def respond(body: dict[str, Any], kind: str) -> str:
        if kind == "informativeness":
            draw = rng.random()
            if draw < malformed:
                return '{"trivial": [1, '
            if draw < malformed + wrong_count:
                user = next(m["content"] for m in body["messages"] if m["role"] == "user")
                ids = [i for i, _ in numbered(blocks(user, "claims"))]
                return json.dumps({"claims": [{"id": i, "class": "informative"} for i in ids[:-1]]})
        return scripted_content(body, plain)

    return respond
