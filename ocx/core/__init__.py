"""The ground floor every app stands on: tenancy, access and roles, errors, audit, database and
lock helpers, the state-machine toolkit, configuration helpers and the API/admin bases.

Nothing here imports an app or the project wiring (``ocx.settings``, ``ocx.urls`` …); the
import-linter contracts in ``pyproject.toml`` fail the lint if something does.
"""
