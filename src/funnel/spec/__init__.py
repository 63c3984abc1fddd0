"""
The funnel's specification: what a funnel *is*, declared once.

Guards (named, pure conditions) and their registry, the python-statemachine class
that declares stages and events, the transition table derived from it, the
communication policy, the validated funnel definition and its diagrams. Imports
only from :mod:`funnel.model` below it.
"""
