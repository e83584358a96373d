"""Lazy session configs: the same session state as Gradio's own constructor builds, only built on first use."""

import gradio
import pytest
from gradio.state_holder import SessionState

from s2s.serve import lazy_sessions


@pytest.fixture
def lazy():
    before = SessionState.__init__  # app.py installs it too: put back what was there
    lazy_sessions.install()
    yield
    SessionState.__init__ = before


def eager_session(blocks) -> SessionState:
    session = SessionState.__new__(SessionState)
    lazy_sessions.GRADIO_INIT(session, blocks)
    return session


def test_the_pinned_gradio_is_the_one_whose_constructor_is_replaced():
    # _session_init copies SessionState.__init__ of this version; a new Gradio must be read again first.
    assert gradio.__version__ == "6.31.0"


def test_a_lazy_session_holds_the_same_configs_and_state(app_module, lazy):
    eager = eager_session(app_module.demo)
    session = SessionState(app_module.demo)
    assert isinstance(session.config_values, lazy_sessions.LazyConfigValues)
    assert {k: v for k, v in vars(session).items() if k != "config_values"}.keys() == {
        k for k in vars(eager) if k != "config_values"
    }
    assert session.STATE_TTL_WHEN_CLOSED == eager.STATE_TTL_WHEN_CLOSED and session.state_data == eager.state_data
    assert len(session.config_values) == len(eager.config_values)
    assert dict(session.config_values.items()) == eager.config_values
    assert list(session.components) == list(eager.components)


def test_configs_are_built_on_first_use_and_updates_land(app_module, lazy):
    session = SessionState(app_module.demo)
    key = app_module.page.api_json._id
    assert dict.__len__(session.config_values) == 0  # nothing built yet
    session._update_value_in_config(key, [{"input": "I love CUDA"}])  # what an event does with its outputs
    assert session.config_values[key]["props"]["value"] == [{"input": "I love CUDA"}]
    assert dict.__len__(session.config_values) == 1
    eager = eager_session(app_module.demo)
    eager._update_value_in_config(key, [{"input": "I love CUDA"}])
    assert dict(session.config_values.items()) == eager.config_values  # the rest built as Gradio would
    with pytest.raises(KeyError):
        session.config_values[-1]


def test_a_new_session_builds_no_config(app_module, lazy, monkeypatch):
    from gradio.blocks import BlocksConfig

    built = []
    original = BlocksConfig.config_for_block
    monkeypatch.setattr(BlocksConfig, "config_for_block", staticmethod(lambda *a: built.append(a[0]) or original(*a)))
    SessionState(app_module.demo)
    assert built == []  # Gradio's own constructor builds one per component:
    eager_session(app_module.demo)
    assert len(built) > 40
