"""The app's explanations, in one place (each maps a tab onto a section of the chapter)."""

INTRO = (
    "# charlm — a character-level language model you can watch learn\n"
    "The chapter builds a recurrent network that reads a novel one character at a time and learns to "
    "predict the next one. Each tab below is one step of that recipe: the text, its mini-batches, "
    "training, and generating new text."
)

CORPUS = (
    "**Step 1 — the data (chapter §5.1).** The network only sees numbers: every distinct character gets "
    "an integer code (in sorted order, so the codes never change between runs). Below: the vocabulary, "
    "the first 200 characters over their codes, and how often each character occurs. The end of the text "
    "is held out to measure how well the model generalises."
)

BATCHES = (
    "**Step 2 — mini-batches (§5.2).** The coded text is cut into N rows and read in windows of M steps: "
    "a batch is N sequences × M characters. The *target* of every input character is the character that "
    "follows it, so the target grid is the input grid shifted left by one — matching colours show the "
    "same characters one column apart. Each input enters the network as a one-hot vector (§5.3)."
)

TRAIN = (
    "**Steps 3–10 — the network and its training (§5.4–5.10).** A stack of LSTM (or GRU, or plain RNN) "
    "layers reads each batch, a linear layer scores every possible next character, and Adam lowers the "
    "cross-entropy between those scores and the targets, with gradients clipped to a maximum norm. The "
    "memory is carried from one batch to the next (truncated back-propagation through time). Watch the "
    "loss fall, and the samples turn from noise into words."
)

GENERATE = (
    "**Step 12 — sampling (§5.12).** The prime text is fed in one character at a time; then the model "
    "repeatedly predicts a distribution over the next character, keeps the top-N most likely, draws one, "
    "and feeds it back. Temperature below 1 sharpens the distribution (safer text), above 1 flattens it "
    "(wilder text). The chart shows the distribution after the prime: only the highlighted bars can be drawn."
)

HINTS = {
    "builtin": "A text that ships with the app or was downloaded (see the README).",
    "upload": "A plain-text (.txt) file in UTF-8, up to the size limit.",
    "val_fraction": "Share of the text, taken from its end, kept aside to measure validation loss.",
    "batch_size": "N: how many sequences are trained side by side in one batch.",
    "num_steps": "M: how many characters each sequence has (steps the network is unrolled).",
    "batch_index": "Which window of M columns to show (batch j covers columns j·M … (j+1)·M−1).",
    "row": "Which of the N sequences to show as one-hot vectors.",
    "show_ints": "Show the integer codes instead of the characters.",
    "preset": "quick: visible learning in about a minute; small: a few minutes; textbook: the chapter's setting (hours on a CPU).",
    "cell": "LSTM (the chapter's), GRU (a simpler gated cell) or a plain tanh RNN (forgets quickly).",
    "num_layers": "Recurrent layers stacked on top of each other.",
    "hidden_size": "Units per layer (the chapter's lstm_size, 512): more learns more but is slower.",
    "dropout": "Share of activations dropped while training (1 − keep_prob): fights over-fitting.",
    "learning_rate": "Adam's step size: too high diverges, too low crawls.",
    "grad_clip": "Gradients are scaled down when their global norm exceeds this (0: off).",
    "epochs": "Passes over the training text.",
    "max_steps": "Stop after this many batches (0: run all epochs).",
    "model": "The pretrained model, checkpoints trained in this session, or one you uploaded.",
    "upload_ckpt": "A charlm checkpoint (.safetensors). Pickled .pt files are refused: they can run code.",
    "prime": "Text the model reads before it starts writing (the chapter uses “Far”).",
    "length": "How many characters to generate.",
    "top_n": "Draw only from the N most likely next characters (1 = always the most likely).",
    "temperature": "Below 1: safer, more repetitive text. Above 1: more surprising, more mistakes.",
    "seed": "Same seed and settings → the same text. Empty: a different text each time.",
}
