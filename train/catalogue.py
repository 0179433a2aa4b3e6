"""The names `train` offers on its command line, kept free of Keras so that help and usage errors answer at once.
What each name builds lives in train/recipe.py (CNNS), train/backbones.py (BACKBONES) and train/models.py;
tests/test_startup.py keeps these lists equal to those tables."""

CNN_NAMES = ("base_cnn", "edge_cnn", "cats_dogs_cnn", "cats_dogs_bn_cnn")
BACKBONE_NAMES = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "vgg16", "resnet50")
