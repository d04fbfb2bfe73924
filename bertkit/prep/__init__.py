"""Converters from raw public datasets to TFRecord files plus their sidecars."""
