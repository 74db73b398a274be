from .nonfinite_loss_hook import NonFiniteLossHook
from .preemption_hook import PreemptionHook
from .step_seed_hook import StepSeedHook
from .unreadable_image_hook import UnreadableImageHook

__all__ = ['NonFiniteLossHook', 'PreemptionHook', 'StepSeedHook', 'UnreadableImageHook']
