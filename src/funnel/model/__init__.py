"""
The model: the people in the funnel and what is known about them.

Records (:class:`~funnel.model.records.Lead`, :class:`~funnel.model.records.Prospect`),
their contact, touches, evidence, engagement, qualification and stage history.
Everything here is a frozen attrs value, free of I/O, and imports nothing from the
layers above (specification, engine, I/O, analytics, forecasting, command line).
"""
