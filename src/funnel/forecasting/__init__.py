"""
Forecasting: lead scoring, predictive scoring, the weighted pipeline and simulation.

Imports from the engine, specification and model layers below it; never from I/O,
analytics or the command line.
"""
