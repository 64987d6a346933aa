"""``python -m wnlib`` with a pause after every checkpoint, for the tests that kill a run between two checkpoints:

    python tests/slow_checkpoints.py sweep SWEEP_FILE --out OUT [--workers 2]

Every process of the command pauses :data:`PAUSE_S` seconds after each checkpoint it writes: this one, and the
workers of the default process pool, which are spawned and import this file again as their main module
(``__mp_main__``: the patch below runs in them too). Nothing in ``wnlib`` knows about the pause.
"""
import sys
import time

from wnlib.experiments.store import Store

PAUSE_S = 60.0


def pause_after_checkpoints(seconds: float = PAUSE_S) -> None:
    """Make every ``Store.save_checkpoint`` of this process sleep ``seconds`` after saving."""
    save = Store.save_checkpoint

    def save_then_pause(self, key, state):
        save(self, key, state)
        time.sleep(seconds)

    Store.save_checkpoint = save_then_pause


if __name__ in ("__main__", "__mp_main__"):   # the command, or a spawned worker of its pool
    pause_after_checkpoints()

if __name__ == "__main__":
    from wnlib.experiments.cli import main

    sys.exit(main(sys.argv[1:]))
