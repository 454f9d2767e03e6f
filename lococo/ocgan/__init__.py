"""OC-GAN (thesis ch. 6, app. B): scene graphs from layouts and the scene-graph similarity
module (SGSM); the generator and discriminators build on them."""
