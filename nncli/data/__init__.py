"""Data: CSV loading, schema inference, preprocessing and splits."""
