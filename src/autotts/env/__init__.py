"""The replay environment: episodes, the formal MDP, the session API and the env checker."""

from autotts.env.checker import check_env, check_session_against_env

__all__ = ["check_env", "check_session_against_env"]
