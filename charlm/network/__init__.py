"""The network (chapter §5.4-5.5): the table of cell types (``cells.py``: the RNN, the GRU and the LSTM, each
with its PyTorch layer and its one-step NumPy form) and ``CharRNN`` (``model.py``): one-hot characters through
stacked recurrent layers, dropout, and one linear layer to a score per character of the vocabulary."""
