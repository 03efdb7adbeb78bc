"""Errors a user can act on. Each message says what went wrong and how to fix it.

    NewsragError
    ├── ConfigError        bad settings or unknown backend names
    ├── ModelError         a model cannot be found, verified or loaded
    ├── BackendError       an LLM or embedding endpoint failed or timed out
    └── EmptyIndexError    nothing has been ingested yet

The CLI turns these into one line on stderr and an exit status; the UI into a short message.
"""


class NewsragError(Exception):
    """Base class: an error the user can fix; shown without a traceback."""


class ConfigError(NewsragError):
    pass


class ModelError(NewsragError):
    pass


class BackendError(NewsragError):
    pass


class EmptyIndexError(NewsragError):
    def __init__(self, message: str = "no articles ingested yet: run `newsrag ingest PATH` first"):
        super().__init__(message)
