"""The training loop: epochs over pre-built tensors, early stopping, callbacks, history."""
