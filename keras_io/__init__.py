"""The contract train and convert share: a .keras archive with its ModelSpec inside (archive.py) and the custom
layers such an archive may hold (layers.py), and what both set before TensorFlow loads (startup.py). Only edge sits
below it; neither train nor convert is imported here."""
