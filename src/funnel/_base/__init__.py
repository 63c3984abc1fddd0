"""
The base layer's private helpers: checked fields, frames, logging, markup, money, privacy
and time. Nothing here is public API; the layers above import from it.
"""
