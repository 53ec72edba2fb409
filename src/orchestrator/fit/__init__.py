"""Will it fit, and what can the hardware do: the model's shape read from its files (no weights
read), the GPUs there are, the memory a server needs per GPU, and each point's physical bound."""
