"""CPU convolution kernels, each a drop-in module sharing the original's parameters: Winograd
3x3, small-map depthwise, TF "same" padding (all put in place by `vision.models.zoo.create_body`),
and BatchNorm folded into the convolution before it for evaluation. They change speed, never
results beyond float rounding."""
