"""The page's lessons, computed from the model: the padded batch, the beam tree, forgetting to pack, batching
costs, where the model is reliable."""
