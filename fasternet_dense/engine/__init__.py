from .hooks import NonFiniteLossHook, PreemptionHook, StepSeedHook, UnreadableImageHook
from .runner import CrashSafeRunner

__all__ = ['CrashSafeRunner', 'NonFiniteLossHook', 'PreemptionHook', 'StepSeedHook',
           'UnreadableImageHook']
