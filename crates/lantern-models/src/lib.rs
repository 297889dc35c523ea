//! Static analysis of model files (pickle, PyTorch, joblib, NumPy, Keras, ONNX, GGUF, safetensors, TensorFlow) for unsafe serialized code, never executing or unpickling
