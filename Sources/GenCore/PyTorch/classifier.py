"""gen's feature classifier (`classifier` runs), as exported by `gen export RUN --pytorch`.

The small MNIST-FID style network whose penultimate activations gen's fid, kid and pr metrics
compare. Build it and load the weights with:

    import json, torch, safetensors.torch
    model = Model(**json.load(open("config.json")))
    model.load_state_dict(safetensors.torch.load_file("weights.safetensors"), strict=True)
    model.eval()

forward(x) -> logits [N, classes] (unnormalized; softmax gives class probabilities)
features(x) -> [N, features], the ReLU outputs of the feature layer (what gen's metrics use)
    x: float tensor [N, C, H, W] with [C, H, W] = image_shape, pixels scaled to [-1, 1].
The network has no dropout or batch norm: train and eval mode compute the same thing.
"""
import torch
from torch import nn
import torch.nn.functional as F


class Model(nn.Module):
    """conv3x3-ReLU-maxpool2, conv3x3-ReLU-maxpool2, flatten, linear-ReLU (features), linear (logits)."""

    def __init__(self, image_shape, classes, channels=32, features=128):
        super().__init__()
        c_in, height, width = image_shape
        if height % 4 or width % 4:
            raise ValueError(f"the classifier halves images twice: {height}x{width} is not a multiple of 4")
        self.image_shape = tuple(image_shape)
        self.conv1 = nn.Conv2d(c_in, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(2 * channels * (height // 4) * (width // 4), features)
        self.fc2 = nn.Linear(features, classes)

    def features(self, x):
        """Images [N, C, H, W] in [-1, 1] -> penultimate features [N, features]."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"images {tuple(x.shape)} do not match the classifier's {list(self.image_shape)}")
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.fc1(h.flatten(1)))

    def forward(self, x):
        """Images [N, C, H, W] in [-1, 1] -> class logits [N, classes]."""
        return self.fc2(self.features(x))
