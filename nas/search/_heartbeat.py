"""How long a search trial's worker may go silent before the trial is failed as its death.

Apart from :mod:`nas.search._study`, so that ``nas search`` builds its options (this default among
them) without importing Optuna or torch.
"""

HEARTBEAT_SECONDS = 60
"""The longest interval between a running trial's heartbeats."""
GRACE_SECONDS = 180
"""Seconds without a heartbeat after which a trial is failed as its worker's death."""
