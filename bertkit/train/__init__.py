"""Fine-tuning BERT in PyTorch: config, model and heads, checkpoint loading, export, training.

Importing this package imports nothing heavy; torch comes in with the submodules that need it.
"""
