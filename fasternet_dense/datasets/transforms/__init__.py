from .loading import LoadImageFromFileOrSkip

__all__ = ['LoadImageFromFileOrSkip']
