"""The architecture names the lessons pass to `ConvLearner.pretrained`, as timm names (ImageNet
weights download on first use). Offline, pass "tf_efficientnet_lite0", whose weights a package ships."""
from __future__ import annotations

__all__ = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50", "resnext101",
           "wrn", "dn121", "inception_4", "vgg16"]

resnet18 = "resnet18"
resnet34 = "resnet34"
resnet50 = "resnet50"
resnet101 = "resnet101"
resnet152 = "resnet152"
resnext50 = "resnext50_32x4d"
resnext101 = "resnext101_32x8d"
wrn = "wide_resnet50_2"
dn121 = "densenet121"
inception_4 = "inception_v4"
vgg16 = "vgg16_bn"
