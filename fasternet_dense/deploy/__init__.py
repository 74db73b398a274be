from .onnx_model import OnnxDetector, OnnxSegmentor

__all__ = ['OnnxDetector', 'OnnxSegmentor']
