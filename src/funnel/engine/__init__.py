"""
The engine: moving records through a funnel.

Transitions (advance, convert, fire), explanations, touches under the communication
rules, hooks, de-duplication and the replay of event logs. Imports only from
:mod:`funnel.spec` and :mod:`funnel.model` below it.
"""
