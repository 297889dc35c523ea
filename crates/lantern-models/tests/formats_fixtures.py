"""Fixtures of the non-pickle formats (safetensors, GGUF, ONNX, Keras, HDF5, SavedModel) for the
Lantern model scanner, standard library only. Called by gen_fixtures.py."""


def generate(emit):
    pass
