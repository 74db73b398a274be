# What the project's configs add to a training run so that it survives
# faults (docs/fault-tolerance.md): checkpoints
# written whole or not at all and resumed from the newest complete one
# (CrashSafeRunner), random draws that depend only on the training position
# (StepSeedHook), a stop at the first NaN or infinite loss before anything of
# that iteration is saved (NonFiniteLossHook; --cfg-options
# nonfinite_loss.max_skips=N skips up to N such updates), a checkpoint and a
# stop on SIGTERM or SIGINT (PreemptionHook; --resume goes on), and images
# that can no longer be read skipped in training and counted, with a stop
# after too many (UnreadableImageHook; --cfg-options
# unreadable_images.max_skips=N). A config inherits this beside its base,
# adds `fault_hooks` to its `custom_hooks` and puts `skipping_loader` first
# in its training pipelines; evaluation pipelines read every image.
from fasternet_dense.datasets import LoadImageFromFileOrSkip
from fasternet_dense.engine import (CrashSafeRunner, NonFiniteLossHook, PreemptionHook,
                                    StepSeedHook, UnreadableImageHook)

runner_type = CrashSafeRunner
fault_hooks = [
    dict(type=StepSeedHook),
    dict(type=NonFiniteLossHook),
    dict(type=PreemptionHook),
    dict(type=UnreadableImageHook),
]
skipping_loader = dict(type=LoadImageFromFileOrSkip)
