"""Gradio's per-session component configs, built when first used instead of for every new session.

Gradio 6.31 makes a `SessionState` for every new session, and every API call is a new session. Its constructor
builds the config of every component on the page (about 60 here: an `inspect.signature` each, and each plot
tries `import bokeh`, which is not installed, so the file system is searched again), on the event loop, inside
`/queue/join`. Under load that was a third of the event loop's time (py-spy, 32 users), and every other request
waited behind it. Those configs serve deep links and the values an event updates; an API call touches two.

`install()` swaps in a constructor that keeps the same attributes with `config_values` as a dict that builds
each block's config from the block the session started with, on first use: the same values, only later.
"""

from __future__ import annotations

import os
from copy import copy

from gradio import state_holder

GRADIO_INIT = state_holder.SessionState.__init__  # Gradio's own, kept to compare against (tests)


class LazyConfigValues(dict):
    """`SessionState.config_values`: block id -> config, each built on first use from the session's first block."""

    def __init__(self, blocks_config, blocks: dict):
        super().__init__()
        self._blocks_config = blocks_config
        self._pending = dict(blocks)  # id -> the block the session started with

    def _build(self, key) -> None:
        block = self._pending.pop(key)
        dict.__setitem__(self, key, self._blocks_config.config_for_block(key, [], block))

    def _build_all(self) -> None:
        for key in list(self._pending):
            self._build(key)

    def __missing__(self, key):
        if key not in self._pending:
            raise KeyError(key)
        self._build(key)
        return dict.__getitem__(self, key)

    def __setitem__(self, key, value) -> None:
        self._pending.pop(key, None)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key) -> None:
        if key in self._pending:
            del self._pending[key]
        else:
            dict.__delitem__(self, key)

    def __contains__(self, key) -> bool:
        return key in self._pending or dict.__contains__(self, key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._pending)

    def __iter__(self):
        self._build_all()
        return dict.__iter__(self)

    def keys(self):
        self._build_all()
        return dict.keys(self)

    def values(self):
        self._build_all()
        return dict.values(self)

    def items(self):
        self._build_all()
        return dict.items(self)


def _session_init(self, blocks) -> None:
    """`SessionState.__init__` of Gradio 6.31.0, with `config_values` lazy."""
    self.blocks_config = copy(blocks.default_config)
    self.config_values = LazyConfigValues(
        self.blocks_config, {k: v for k, v in self.blocks_config.blocks.items() if k in blocks.blocks}
    )
    self.state_data = {}
    self._state_ttl = {}
    self.is_closed = False
    self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


def install() -> None:
    """Make every new Gradio session build its component configs on first use. Idempotent."""
    state_holder.SessionState.__init__ = _session_init
