"""Shipping: the model to a Hub repository, the folder a Space needs."""
