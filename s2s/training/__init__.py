"""Training and evaluation: the recipe, the sentence families, the fast training step, measuring and the model card."""
