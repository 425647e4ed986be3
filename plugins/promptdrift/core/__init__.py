"""The bottom layer: error types and small data types that every other layer may import.

Nothing here does work or imports another promptdrift layer.
"""
