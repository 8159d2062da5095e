"""Runnable examples: ``python -m pyneural.examples.<name>``.

- ``mnist1d``: the MNIST-1D benchmark with the setups of its paper (MLP, CNN, GRU) and a results table.
- ``char_transformer``: a character-level Transformer language model trained on the Python standard
  library's own source files; prints samples.
- ``gan_digits``: a small GAN on the 8x8 handwritten digits; saves a PNG grid of samples.
- ``transfer_learning``: load a pretrained state dict (from PyTorch when it is installed), freeze the
  feature layers, replace the head and fine-tune on new classes.
"""
