"""Every piece of text the app shows, in English and Simplified Chinese, in one place.

``UI[key] = (English, 简体中文)``: labels, hints, the tabs' explanations (each maps a tab onto a
section of the chapter), status lines, messages and figure labels. Placeholders are
``str.format`` fields and must be the same in both languages (a test checks).

``ERRORS_ZH[key]``: the Chinese for an error ``charlm`` raises with that key; the English is the
core's own message, written next to the check that raises it. ``TERMS_ZH`` translates the few
English phrases the core passes as parameters (``what="The training part of the text"``).

The Chinese follows the terms of the chapter's Chinese edition: 循环神经网络, 长短期记忆网络
（LSTM）, 独热编码, 小批量, 梯度裁剪, 通过时间的反向传播.
"""

from __future__ import annotations

UI: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------------ page
    "intro": (
        "# charlm — a character-level language model you can watch learn\n"
        "The chapter builds a recurrent network that reads a novel one character at a time and learns to "
        "predict the next one. Each tab below is one step of that recipe: the text, its mini-batches, "
        "training, and generating new text.",
        "# charlm——看得见学习过程的字符级语言模型\n"
        "本章搭建一个循环神经网络：它逐个字符地读一部小说，学习预测下一个字符。下面每个标签页对应"
        "这套做法中的一步：文本、小批量、训练，以及生成新文本。",
    ),
    "lang.label": ("Language · 语言", "语言 · Language"),
    "lang.info": ("Messages, status lines and figures too; remembered in this browser.",
                  "消息、状态行和图表也随之切换；浏览器会记住这个选择。"),
    "tab.corpus": ("1 · Corpus", "1 · 语料"),
    "tab.batches": ("2 · Batches", "2 · 小批量"),
    "tab.train": ("3 · Train", "3 · 训练"),
    "tab.generate": ("4 · Generate", "4 · 生成"),
    "tab.inside": ("5 · Inside the network", "5 · 网络内部"),
    # ------------------------------------------------------------------ explanations
    "explain.corpus": (
        "**Step 1 — the data (chapter §5.1).** The network only sees numbers: every distinct character gets "
        "an integer code (in sorted order, so the codes never change between runs). Below: the vocabulary, "
        "the first 200 characters over their codes, and how often each character occurs. The end of the text "
        "is held out to measure how well the model generalises.",
        "**第 1 步——数据（本章 §5.1）。** 网络只认识数字：每个不同的字符都对应一个整数编码（按字符排序"
        "编号，所以每次运行编码都不变）。下面依次是字符表、前 200 个字符及其编码，以及各字符出现的次数。"
        "文本末尾的一段留作验证集，用来衡量模型的泛化能力。",
    ),
    "explain.batches": (
        "**Step 2 — mini-batches (§5.2).** The coded text is cut into N rows and read in windows of M steps: "
        "a batch is N sequences × M characters. The *target* of every input character is the character that "
        "follows it, so the target grid is the input grid shifted left by one — matching colours show the "
        "same characters one column apart. Each input enters the network as a one-hot vector (§5.3).",
        "**第 2 步——小批量（§5.2）。** 编码后的文本被切成 N 行，再按 M 个时间步为一个窗口依次读取："
        "一个小批量就是 N 条序列 × M 个字符。每个输入字符的*目标*是紧跟在它后面的字符，所以目标网格就是"
        "输入网格左移一格——颜色相同的格子是错开一列的同一个字符。每个输入以独热编码向量的形式进入网络（§5.3）。",
    ),
    "explain.train": (
        "**Steps 3–10 — the network and its training (§5.4–5.10).** A stack of LSTM (or GRU, or plain RNN) "
        "layers reads each batch, a linear layer scores every possible next character, and Adam lowers the "
        "cross-entropy between those scores and the targets, with gradients clipped to a maximum norm. The "
        "memory is carried from one batch to the next (truncated back-propagation through time). Watch the "
        "loss fall, and the samples turn from noise into words.",
        "**第 3–10 步——网络及其训练（§5.4–5.10）。** 几层堆叠的长短期记忆网络（LSTM，也可换成 GRU 或"
        "普通循环神经网络）读入每个小批量，一个线性层给每个可能的下一个字符打分，Adam 优化器降低这些分数与"
        "目标之间的交叉熵，并用梯度裁剪限制梯度的范数。记忆（隐状态）从一个小批量传到下一个小批量"
        "（截断的通过时间的反向传播）。看着损失下降，样本从乱码变成单词。",
    ),
    "explain.generate": (
        "**Step 12 — sampling (§5.12).** The prime text is fed in one character at a time; then the model "
        "repeatedly predicts a distribution over the next character, keeps the top-N most likely, draws one, "
        "and feeds it back. Temperature below 1 sharpens the distribution (safer text), above 1 flattens it "
        "(wilder text). The chart shows the distribution after the prime: only the highlighted bars can be drawn.",
        "**第 12 步——采样（§5.12）。** 先把起始文本逐个字符送入网络；之后模型反复预测下一个字符的概率"
        "分布，只保留最可能的前 N 个，从中抽取一个，再把它送回网络。温度低于 1 使分布更尖锐（文本更稳妥），"
        "高于 1 使分布更平坦（文本更大胆）。右图是读完起始文本后的分布：只有高亮的柱子可能被抽中。",
    ),
    # ------------------------------------------------------------------ tab 1: corpus
    "corpus.builtin": ("Built-in text", "内置文本"),
    "corpus.upload": ("…or upload a .txt file", "……或上传一个 .txt 文件"),
    "corpus.val_share": ("Validation share", "验证集比例"),
    "corpus.load": ("Load text", "载入文本"),
    "corpus.vocab": ("Vocabulary (code:character; ␣ is a space, ⏎ a newline)",
                     "字符表（编码:字符；␣ 表示空格，⏎ 表示换行）"),
    "corpus.codes": ("The first 200 characters and their codes", "前 200 个字符及其编码"),
    "corpus.freq_title": ("How often each character occurs (top 40)", "各字符出现的次数（前 40 个）"),
    "axis.character": ("character", "字符"),
    "axis.count": ("count", "次数"),
    "axis.probability": ("probability", "概率"),
    "hint.builtin": ("A text that ships with the app or was downloaded (see the README).",
                     "随应用附带或已下载的文本（见 README）。"),
    "hint.upload": ("A plain-text (.txt) file in UTF-8, up to the size limit.",
                    "UTF-8 编码的纯文本（.txt）文件，不超过大小上限。"),
    "hint.val_fraction": ("Share of the text, taken from its end, kept aside to measure validation loss.",
                          "从文本末尾留出的比例，用来计算验证损失。"),
    "msg.loaded": ("Loaded {name}.", "已载入 {name}。"),
    "summary.one_hot": ("one-hot vectors", "独热编码向量"),
    "summary.embedding": ("an embedding (too many characters for one-hot)", "嵌入向量（字符太多，不适合独热编码）"),
    "summary.text": (
        "**{name}**: {n_chars} characters, **{n_vocab}** distinct (the network reads them as {mode}).  \n"
        "Training part: the first {n_train} characters; validation part: the last {n_val} ({share}).",
        "**{name}**：共 {n_chars} 个字符，其中不同的字符 **{n_vocab}** 个（网络以{mode}的形式读入）。  \n"
        "训练部分：前 {n_train} 个字符；验证部分：最后 {n_val} 个（{share}）。",
    ),
    "summary.more": ("… ({n} more)", "……（还有 {n} 个）"),
    "corpus.title.python-stdlib": ("Python standard library source", "Python 标准库源代码"),
    "corpus.title.anna-karenina": ("Anna Karenina (Leo Tolstoy, tr. Constance Garnett)",
                                   "《安娜·卡列尼娜》（列夫·托尔斯泰著，康斯坦斯·加内特英译）"),
    "corpus.title.tiny-shakespeare": ("Tiny Shakespeare (a subset of Shakespeare's works, from char-rnn)",
                                      "Tiny Shakespeare（莎士比亚作品选段，来自 char-rnn）"),
    # ------------------------------------------------------------------ tab 2: batches
    "batch.n": ("N (sequences per batch)", "N（每批的序列数）"),
    "batch.m": ("M (steps per sequence)", "M（每条序列的时间步数）"),
    "batch.index": ("Batch index", "批次编号"),
    "batch.row": ("Sequence (row) for the one-hot view", "独热编码视图显示的序列（行）"),
    "batch.show_ints": ("Show integer codes", "显示整数编码"),
    "hint.batch_size": ("N: how many sequences are trained side by side in one batch.",
                        "N：一个小批量里并排训练的序列条数。"),
    "hint.num_steps": ("M: how many characters each sequence has (steps the network is unrolled).",
                       "M：每条序列的字符数（网络展开的时间步数）。"),
    "hint.batch_index": ("Which window of M columns to show (batch j covers columns j·M … (j+1)·M−1).",
                         "显示哪一个 M 列的窗口（第 j 批覆盖第 j·M … (j+1)·M−1 列）。"),
    "hint.row": ("Which of the N sequences to show as one-hot vectors.", "把 N 条序列中的哪一条显示为独热编码向量。"),
    "hint.show_ints": ("Show the integer codes instead of the characters.", "显示整数编码，而不是字符。"),
    "batch.info": (
        "Batch {index} of {count}: inputs and targets are both {n}×{m}. Row {row}, first steps: input `{x}` → "
        "target `{y}`; the last target of each row is the first input of the next batch (the true next character).",
        "第 {index} 批（共 {count} 批）：输入和目标都是 {n}×{m}。第 {row} 行的第一步：输入 `{x}` → 目标 `{y}`；"
        "每行的最后一个目标就是下一批的第一个输入（真正的下一个字符）。",
    ),
    "batch.what": ("The training part of the text", "文本的训练部分"),
    "reshape.row": ("row {r}: chars {start}–{end}", "第 {r} 行：字符 {start}–{end}"),
    "reshape.more_rows": ("… {n} more rows", "……还有 {n} 行"),
    "reshape.text": (
        "{n_chars} characters → K = {k} batches of N×M = {n}×{m} = {nm} characters; the last {dropped} are "
        "dropped (one more is kept as the final target). The text is reshaped to (N, K·M) = ({n}, {km}); batch "
        "{index} is the window of columns {start}–{end} (highlighted).",
        "{n_chars} 个字符 → K = {k} 个小批量，每批 N×M = {n}×{m} = {nm} 个字符；最后 {dropped} 个字符被舍弃"
        "（另外多留一个作为最后的目标）。文本被重排成 (N, K·M) = ({n}, {km})；第 {index} 批是第 {start}–{end} "
        "列的窗口（高亮显示）。",
    ),
    "grid.inputs": ("inputs x", "输入 x"),
    "grid.targets": ("targets y (x shifted left by one)", "目标 y（x 左移一格）"),
    "grid.showing": ("showing {rows}×{cols} of {all_rows}×{all_cols}", "显示 {all_rows}×{all_cols} 中的 {rows}×{cols}"),
    "onehot.active": ("one-hot input: the {rows} rows (of {vocab}) that light up, × {steps} steps",
                      "独热编码输入：{vocab} 行中被点亮的 {rows} 行 × {steps} 个时间步"),
    "onehot.all": ("one-hot input: {vocab} rows (one per character) × {steps} steps",
                   "独热编码输入：{vocab} 行（每个字符一行）× {steps} 个时间步"),
    "onehot.note": ("columns: the input characters in order; rows: the vocabulary; each column has a single 1 "
                    "(black) in the row of its character.",
                    "列：依次输入的字符；行：字符表；每一列只有一个 1（黑格），位于该字符所在的行。"),
    # ------------------------------------------------------------------ tab 3: train
    "train.preset": ("Preset", "预设"),
    "train.cell": ("Cell", "单元类型"),
    "train.layers": ("Layers", "层数"),
    "train.hidden": ("Hidden size", "隐藏单元数"),
    "train.dropout": ("Dropout", "Dropout（丢弃率）"),
    "train.n": ("N (batch size)", "N（批量大小）"),
    "train.m": ("M (steps)", "M（时间步数）"),
    "train.lr": ("Learning rate", "学习率"),
    "train.clip": ("Gradient clip", "梯度裁剪阈值"),
    "train.epochs": ("Epochs", "训练轮数"),
    "train.max_steps": ("Max steps", "最多步数"),
    "train.start": ("Start", "开始"),
    "train.stop": ("Stop", "停止"),
    "train.resume": ("Resume", "继续"),
    "train.loss_plot": ("Loss (nats per character)", "损失（每字符，单位 nat）"),
    "train.sample": ("Latest sample from the model being trained", "正在训练的模型最新生成的样本"),
    "train.checkpoints": ("Checkpoints (latest three)", "检查点（最近三个）"),
    "hint.preset": ("quick: visible learning in about a minute; small: a few minutes; textbook: the chapter's "
                    "setting (hours on a CPU).",
                    "quick：大约一分钟就能看到学习效果；small：几分钟；textbook：本章原书的设置（在 CPU 上要几个小时）。"),
    "hint.cell": ("LSTM (the chapter's), GRU (a simpler gated cell) or a plain tanh RNN (forgets quickly).",
                  "LSTM（本章所用）、GRU（更简单的门控单元）或普通 tanh 循环神经网络（遗忘得很快）。"),
    "hint.num_layers": ("Recurrent layers stacked on top of each other.", "上下堆叠的循环层数。"),
    "hint.hidden_size": ("Units per layer (the chapter's lstm_size, 512): more learns more but is slower.",
                         "每层的隐藏单元数（即本章的 lstm_size，512）：越多学得越多，但越慢。"),
    "hint.dropout": ("Share of activations dropped while training (1 − keep_prob): fights over-fitting.",
                     "训练时随机丢弃的激活比例（1 − keep_prob），用来抑制过拟合。"),
    "hint.learning_rate": ("Adam's step size: too high diverges, too low crawls.", "Adam 的步长：太大会发散，太小则进展缓慢。"),
    "hint.grad_clip": ("Gradients are scaled down when their global norm exceeds this (0: off).",
                       "梯度的全局范数超过这个值时按比例缩小（0：不裁剪）。"),
    "hint.epochs": ("Passes over the training text.", "把训练文本完整读几遍。"),
    "hint.max_steps": ("Stop after this many batches (0: run all epochs).", "训练这么多个小批量后停止（0：跑完所有轮）。"),
    "train.no_training": ("No training yet.", "还没有开始训练。"),
    "train.none_yet": ("No training yet: pick a preset and press Start.", "还没有开始训练：选一个预设，然后点“开始”。"),
    "train.started": ("Training started on {corpus} ({layers}×{hidden} {cell}).",
                      "已在 {corpus} 上开始训练（{layers}×{hidden} {cell}）。"),
    "train.resumed": ("Resumed from step {step}.", "已从第 {step} 步继续训练。"),
    "train.not_running": ("No training is running.", "当前没有正在进行的训练。"),
    "train.stopping": ("Stopping after the current step; a checkpoint will be saved.",
                       "将在当前这一步结束后停止，并保存一个检查点。"),
    "train.sample_header": ("— sample at step {step} —", "——第 {step} 步的样本——"),
    "status.waiting": ("Waiting to start…", "等待开始……"),
    "status.starting": ("Starting…", "正在启动……"),
    "status.line": (
        "Epoch: {epoch}/{epochs}... Step: {step}/{total}... loss: {loss:.4f}... {spb:.3f} sec/batch · "
        "{cps:,.0f} chars/s · elapsed {elapsed} · ETA {eta}{val}",
        "轮次: {epoch}/{epochs}... 步数: {step}/{total}... 损失: {loss:.4f}... {spb:.3f} 秒/批 · "
        "{cps:,.0f} 字符/秒 · 已用 {elapsed} · 预计还需 {eta}{val}",
    ),
    "status.val": (" · validation {loss:.3f}", " · 验证损失 {loss:.3f}"),
    "status.running": ("▶", "▶"),
    "status.stopping": ("⏸ stopping…", "⏸ 正在停止……"),
    "status.stopped": ("⏹ stopped.", "⏹ 已停止。"),
    "status.done": ("✅ done.", "✅ 完成。"),
    "plot.train_each": ("training (each batch)", "训练（每个小批量）"),
    "plot.train_smooth": ("training (smoothed)", "训练（平滑后）"),
    "plot.validation": ("validation", "验证"),
    "plot.step": ("step (batches seen)", "步数（已训练的小批量数）"),
    "plot.loss": ("loss (nats per character)", "损失（每字符，nat）"),
    "plot.empty": ("the loss curve appears here once training starts", "开始训练后，损失曲线会显示在这里"),
    # ------------------------------------------------------------------ tab 4: generate
    "gen.model": ("Model", "模型"),
    "gen.upload": ("Upload a checkpoint", "上传检查点"),
    "gen.prime": ("Prime text", "起始文本"),
    "gen.length": ("Length", "长度"),
    "gen.top_n": ("Top-N", "前 N 个（Top-N）"),
    "gen.temperature": ("Temperature", "温度"),
    "gen.seed": ("Seed", "随机种子"),
    "gen.generate": ("Generate", "生成"),
    "gen.stop": ("Stop", "停止"),
    "gen.text": ("Generated text", "生成的文本"),
    "gen.dist_title": ("Next-character probabilities after the prime", "读完起始文本后，下一个字符的概率"),
    "hint.model": ("The pretrained model, checkpoints trained in this session, or one you uploaded.",
                   "预训练模型、本次会话中训练出的检查点，或你上传的检查点。"),
    "hint.upload_ckpt": ("A charlm checkpoint (.safetensors). Pickled .pt files are refused: they can run code.",
                         "charlm 检查点（.safetensors）。pickle 格式的 .pt 文件会被拒绝：它们可以执行任意代码。"),
    "hint.prime": ("Text the model reads before it starts writing (the chapter uses “Far”).",
                   "模型开始续写之前先读入的文本（本章用的是 “Far”）。"),
    "hint.length": ("How many characters to generate.", "要生成多少个字符。"),
    "hint.top_n": ("Draw only from the N most likely next characters (1 = always the most likely).",
                   "只从最可能的 N 个字符中抽取（1 = 总是取最可能的那个）。"),
    "hint.temperature": ("Below 1: safer, more repetitive text. Above 1: more surprising, more mistakes.",
                         "低于 1：更稳妥、更重复；高于 1：更出人意料，错误也更多。"),
    "hint.seed": ("Same seed and settings → the same text. Empty: a different text each time.",
                  "种子和设置都相同 → 生成的文本相同。留空：每次都不同。"),
    "model.pretrained": ("pretrained: {name}", "预训练：{name}"),
    "model.session": ("this session: {name}", "本次会话：{name}"),
    "model.uploaded": ("uploaded: {name} ({layers}×{hidden} {cell})", "已上传：{name}（{layers}×{hidden} {cell}）"),
    "gen.loaded": ("Loaded {label}.", "已载入 {label}。"),
    "gen.next_note": ("After “…{prime}”, the model's most likely next characters (temperature {temperature:g}); "
                      "only the top {top_n} can be drawn.",
                      "读完 “…{prime}” 之后，模型认为最可能的下一个字符（温度 {temperature:g}）；"
                      "只有前 {top_n} 个可能被抽中。"),
    "gen.kind": ("Top-N", "前 N 个"),
    "gen.in_top": ("in top-N (can be drawn)", "在前 N 个之内（可能被抽中）"),
    "gen.out_top": ("outside top-N (never drawn)", "在前 N 个之外（不会被抽中）"),
    "gen.stopped_after": ("Stopped after {n} characters.", "生成了 {n} 个字符后停止。"),
    "gen.progress": ("Generating… {i}/{n}", "正在生成……{i}/{n}"),
    "gen.done": ("Done: {n} characters (seed {seed}).", "完成：{n} 个字符（随机种子 {seed}）。"),
    "gen.random": ("random", "随机"),
    "gen.stopped": ("Stopped.", "已停止。"),
    # ------------------------------------------------------------------ tab 5: inside the network
    "toy.title": ("The toy: h e l o", "玩具示例：h e l o"),
    "toy.explain": (
        "**The toy (§2).** Four letters, one word: `hello` gives the training pairs h→e, he→l, hel→l, hell→o. "
        "Each input is a one-hot vector; the network outputs one score per letter, and softmax turns the scores "
        "into probabilities. Before training the scores are noise; after a few hundred steps the right next "
        "letter gets almost all the probability. Try another word.",
        "**玩具示例（§2）。** 四个字母、一个单词：`hello` 给出训练样本对 h→e、he→l、hel→l、hell→o。"
        "每个输入都是一个独热编码向量；网络为每个字母输出一个分数，softmax 再把分数变成概率。训练前这些"
        "分数只是噪声；训练几百步之后，正确的下一个字母几乎拿到全部概率。换个单词试试。",
    ),
    "toy.word": ("Word", "单词"),
    "toy.word_info": ("2–40 characters, at least two different ones.", "2–40 个字符，至少包含两个不同的字符。"),
    "toy.cell": ("Cell", "单元类型"),
    "toy.steps": ("Training steps", "训练步数"),
    "toy.button": ("Train the toy", "训练玩具模型"),
    "toy.pair": ("pair", "样本对"),
    "toy.input": ("one-hot input", "独热编码输入"),
    "toy.scores_before": ("scores before", "训练前的分数"),
    "toy.softmax_before": ("softmax before", "训练前的 softmax"),
    "toy.scores_after": ("scores after", "训练后的分数"),
    "toy.softmax_after": ("softmax after", "训练后的 softmax"),
    "toy.note": ("green: the right next letter. Loss {before:.3f} before, {after:.4f} after {steps} steps of Adam.",
                 "绿色：正确的下一个字母。损失从训练前的 {before:.3f} 降到 Adam 训练 {steps} 步后的 {after:.4f}。"),
    "grad.title": ("Vanishing gradients", "梯度消失"),
    "grad.explain": (
        "**Vanishing gradients (§3).** How much does the loss at the last step depend on the input k steps "
        "earlier? The curves show the size of that gradient for an untrained RNN, GRU and LSTM of the same "
        "size, on a log scale. Look for the plain RNN's curve plunging within a few dozen steps while the "
        "LSTM's falls slowly: the LSTM can still learn from what it read 50 or 100 characters ago.",
        "**梯度消失（§3）。** 最后一步的损失在多大程度上依赖于 k 步之前的输入？曲线在对数坐标下给出同样"
        "规模、尚未训练的 RNN、GRU 和 LSTM 的这个梯度大小。可以看到，普通循环神经网络的曲线在几十步之内"
        "就急剧下坠，而 LSTM 的下降缓慢：LSTM 仍然能从 50 或 100 个字符之前读到的内容中学习。",
    ),
    "grad.button": ("Measure", "测量"),
    "grad.note": ("Untrained networks, 128 units, the same 101 characters of the loaded text.",
                  "尚未训练的网络，128 个单元，使用已载入文本中相同的 101 个字符。"),
    "grad.x": ("k: steps back from the last character", "k：从最后一个字符往回数的步数"),
    "grad.y": ("gradient size (log scale)", "梯度大小（对数坐标）"),
    "cmp.title": ("RNN vs GRU vs LSTM", "RNN、GRU 与 LSTM 对比"),
    "cmp.explain": (
        "**Long-term dependencies, measured.** One click trains a plain RNN, a GRU and an LSTM on the loaded "
        "text with the same budget (a small preset) and plots their validation losses side by side.",
        "**长期依赖，实测一下。** 点一下，就用同样的训练预算（一个小预设）在已载入的文本上分别训练普通"
        "循环神经网络、GRU 和 LSTM，并把它们的验证损失画在一起比较。",
    ),
    "cmp.seconds": ("Seconds of training per cell", "每种单元的训练秒数"),
    "cmp.button": ("Train all three", "三种都训练"),
    "cmp.busy": ("A training is running in this tab: stop it first.", "这个页面里有训练正在进行：请先停止它。"),
    "cmp.progress": ("Training {cell}: step {step}, loss {loss:.3f}", "正在训练 {cell}：第 {step} 步，损失 {loss:.3f}"),
    "cmp.final": ("Final validation loss after {seconds:g} s each: {summary}.",
                  "各训练 {seconds:g} 秒后的最终验证损失：{summary}。"),
    "cmp.x": ("step", "步数"),
    "cmp.y": ("validation loss (nats/char)", "验证损失（nat/字符）"),
    "cells.title": ("What the cells track", "记忆单元在追踪什么"),
    "cells.explain": (
        "**What the cells track (§4).** The passage is coloured by the activation of one cell of one layer "
        "(blue negative, red positive). The lists name the cells whose activation follows something visible "
        "(being inside quotes, the position in the line...) most closely; pick one to see it. The gate chart "
        "shows how often each gate is nearly shut (<0.1) or wide open (>0.9).",
        "**记忆单元在追踪什么（§4）。** 段落按某一层中某一个单元的激活值着色（蓝色为负，红色为正）。"
        "下面的列表列出与某种看得见的特征（是否在引号内、在行中的位置……）最相关的单元；选一个看看。"
        "门的图表显示每个门有多大比例几乎关闭（<0.1）或完全打开（>0.9）。",
    ),
    "cells.passage": ("Passage (uses the model chosen in the Generate tab)", "段落（使用“生成”页中选择的模型）"),
    "cells.layer": ("Layer", "层"),
    "cells.unit": ("Cell (unit)", "单元编号"),
    "cells.show": ("Show", "显示"),
    "cells.show_info": ("cell: the LSTM's memory c; hidden: its output h", "cell：LSTM 的记忆（细胞状态）c；hidden：它的输出 h"),
    "cells.button": ("Look inside", "看看内部"),
    "cells.note": ("Layer {layer}, cell {unit}, {what} ({seconds:.2f} s).", "第 {layer} 层，第 {unit} 个单元，{what}（{seconds:.2f} 秒）。"),
    "cells.no_cell_state": (" This model has no cell state: showing the hidden state.", " 这个模型没有细胞状态：改为显示隐状态。"),
    "cells.features": ("Cells that follow a feature in this passage (layer {layer}):",
                       "在这段文字中与某个特征同步变化的单元（第 {layer} 层）："),
    "cells.unit_r": ("cell {unit} (r = {r:+.2f})", "单元 {unit}（r = {r:+.2f}）"),
    "feature.inside quotes": ("inside quotes", "在引号内"),
    "feature.position in the line": ("position in the line", "在行中的位置"),
    "feature.just after a newline": ("just after a newline", "刚换行"),
    "feature.inside a word": ("inside a word", "在单词内"),
    "feature.inside parentheses": ("inside parentheses", "在括号内"),
    "gate.input": ("input", "输入门"),
    "gate.forget": ("forget", "遗忘门"),
    "gate.output": ("output", "输出门"),
    "gate.reset": ("reset", "重置门"),
    "gate.update": ("update", "更新门"),
    "gates.shut": ("nearly shut (< 0.1)", "几乎关闭（< 0.1）"),
    "gates.open": ("wide open (> 0.9)", "完全打开（> 0.9）"),
    "gates.x": ("share of the passage", "占段落的比例"),
    "guess.title": ("Next-character guesses", "对下一个字符的猜测"),
    "guess.explain": (
        "**Where is the model sure, where surprised?** Each character is shaded by the probability the model "
        "gave it before seeing it (dark: surprised). Hover over a character for the model's top five guesses.",
        "**模型在哪里有把握，在哪里感到意外？** 每个字符的底色取决于模型在看到它之前给它的概率（颜色越深越"
        "意外）。把鼠标停在字符上，可以看到模型猜测的前五名。",
    ),
    "guess.button": ("Show the guesses for the passage above", "显示模型对上面这段文字的猜测"),
    "guess.actual": ("actual", "实际"),
    "guess.mean": ("average loss on this passage: {loss:.3f} nats per character", "这段文字上的平均损失：每字符 {loss:.3f} nat"),
    # ------------------------------------------------------------------ errors the app itself raises
    "err.generic": ("Something went wrong ({kind}). Please try again.", "出了点问题（{kind}）。请再试一次。"),
    "err.whole_number": ("{name} must be a whole number; got {value!r}.", "{name}必须是整数；收到的是 {value!r}。"),
    "err.whole_range": ("{name} must be a whole number from {low} to {high}; got {value!r}.",
                        "{name}必须是 {low} 到 {high} 之间的整数；收到的是 {value!r}。"),
    "err.number": ("{name} must be a number; got {value!r}.", "{name}必须是数字；收到的是 {value!r}。"),
    "err.number_range": ("{name} must be between {low:g} and {high:g}; got {value!r}.",
                         "{name}必须在 {low:g} 到 {high:g} 之间；收到的是 {value!r}。"),
    "err.corpus_missing": ("The corpus {name!r} is not on this computer (see the README: python -m charlm download {name}).",
                           "这台电脑上没有语料 {name!r}（见 README：python -m charlm download {name}）。"),
    "err.corpus_too_short": ("{name} has only {n} characters: too short to train on. Use a text of at least {min} "
                             "characters (a few pages or more learns much better).",
                             "{name} 只有 {n} 个字符，太短了，无法训练。请使用至少 {min} 个字符的文本（几页以上效果会好得多）。"),
    "err.unknown_builtin": ("Unknown built-in corpus {name!r}.", "没有名为 {name!r} 的内置语料。"),
    "err.unknown_preset": ("Unknown preset {name!r}; choose one of {choices}.", "没有名为 {name!r} 的预设；请从 {choices} 中选择。"),
    "err.cell": ("The cell must be lstm, gru or rnn; got {value!r}.", "单元类型必须是 lstm、gru 或 rnn；收到的是 {value!r}。"),
    "err.already_training": ("A training is already running in this tab: stop it first.", "这个页面里已经有训练在进行：请先停止它。"),
    "err.still_training": ("Training is still running.", "训练仍在进行。"),
    "err.nothing_to_resume": ("Nothing to resume yet: start a training first.", "还没有可以继续的训练：请先开始一次训练。"),
    "err.no_model": ("No model yet: train one (Train tab) or upload a checkpoint.", "还没有模型：请先训练一个（“训练”页），或上传一个检查点。"),
    "err.unknown_model": ("Unknown model {label!r}: pick one from the list.", "没有模型 {label!r}：请从列表中选择。"),
    "err.choose_checkpoint": ("Choose a .safetensors checkpoint file to upload.", "请选择一个 .safetensors 检查点文件上传。"),
    "err.checkpoint_too_large": ("That file is too large to be a charlm checkpoint.", "这个文件太大了，不可能是 charlm 检查点。"),
    "err.top_n_vocab": ("Top-N can be at most the vocabulary size ({size}); got {value}.",
                        "Top-N 最多等于字符表的大小（{size}）；收到的是 {value}。"),
    "err.text_too_short": ("The loaded text is too short: it needs at least {n} characters.",
                           "已载入的文本太短：至少需要 {n} 个字符。"),
    "err.layer_range": ("This model has {n} layer(s): choose a layer from 0 to {last}.", "这个模型有 {n} 层：请选择 0 到 {last} 之间的层。"),
    "err.unit_range": ("Layers have {n} cells: choose one from 0 to {last}.", "每层有 {n} 个单元：请选择 0 到 {last} 之间的单元。"),
    "err.passage_short": ("The passage needs at least two characters.", "段落至少需要两个字符。"),
    # names used in the range messages above
    "name.val_share": ("The validation share", "验证集比例"),
    "name.n": ("N (sequences)", "N（序列数）"),
    "name.m": ("M (steps)", "M（时间步数）"),
    "name.batch_index": ("The batch index", "批次编号"),
    "name.row": ("The sequence", "序列编号"),
    "name.layers": ("Layers", "层数"),
    "name.hidden": ("Hidden size", "隐藏单元数"),
    "name.dropout": ("Dropout", "Dropout"),
    "name.lr": ("The learning rate", "学习率"),
    "name.clip": ("Gradient clip", "梯度裁剪阈值"),
    "name.epochs": ("Epochs", "训练轮数"),
    "name.max_steps": ("Max steps", "最多步数"),
    "name.temperature": ("The temperature", "温度"),
    "name.top_n": ("Top-N", "Top-N"),
    "name.length": ("Length", "长度"),
    "name.seed": ("The seed", "随机种子"),
    "name.steps": ("Training steps", "训练步数"),
    "name.seconds": ("Seconds of training", "训练秒数"),
}

# Chinese for the errors charlm raises (by their ``key``); the English is charlm's own message.
ERRORS_ZH: dict[str, str] = {
    "batch_shape": "N（batch_size）和 M（num_steps）都必须至少为 1（收到的是 {batch_size} 和 {num_steps}）。",
    "too_short_for_batch": "{what}只有 {n_chars:,} 个字符，而一个 {batch_size}×{num_steps} 的小批量需要 {need:,} 个"
                           "（还差 {more:,} 个）。{fit_hint}",
    "ckpt_malformed": "{name} 的描述信息格式有误（{detail}）。",
    "ckpt_optimizer": "检查点中的优化器状态与模型参数 {name} 对不上。",
    "cannot_read": "无法读取 {name}：{detail}。",
    "ckpt_too_large": "{name} 有 {mb:.0f} MB，比任何 charlm 检查点都大（上限 {limit_mb:.0f} MB）。",
    "ckpt_pickle": "{name} 是 pickle 格式的 PyTorch 文件（.pt/.pth）。反序列化 pickle 可以执行任意代码，所以 charlm "
                   "从不加载这类文件；请使用 charlm 检查点（.safetensors）。",
    "no_checkpoint": "找不到检查点：{name}",
    "ckpt_checksum": "{name} 与它的 .json 说明文件校验和不一致：文件已损坏或被替换。请使用更早的检查点。",
    "ckpt_invalid": "{name} 不是有效的检查点（文件已损坏，或者不是 safetensors 文件）。",
    "ckpt_foreign": "{name} 是 safetensors 文件，但不是 charlm 检查点（缺少 charlm 的描述信息）。",
    "ckpt_version": "{name} 使用第 {version} 版检查点格式；这个 charlm 只能读取第 {supported} 版。",
    "ckpt_mismatch": "{name}：权重与描述信息不一致（{detail}）。",
    "ckpt_nonfinite": "{name}：张量 {tensor} 含有非有限值或非浮点数。",
    "text_empty": "文本是空的：请选择一个包含文字的文件。",
    "text_binary": "这看起来是二进制文件，而不是文本（偏移 {offset} 处有一个 NUL 字节）。{utf16_hint}"
                   "请选择以 UTF-8 保存的纯文本（.txt）文件。",
    "text_not_utf8": "这个文件不是有效的 UTF-8（偏移 {offset} 处的字节 {byte}）。请把它另存为 UTF-8"
                     "（例如在文本编辑器里选择“另存为… UTF-8”）。",
    "no_file": "没有这个文件：{name}",
    "text_too_large": "文本有 {mb:.1f} MB，上限是 {limit_mb:.0f} MB。请使用更短的文本。",
    "vocab_too_large": "文本中有 {n:,} 个不同的字符，上限是 {limit:,}。这大概不是自然语言文本（或者混杂了许多种文字）；"
                       "请换一份更干净的文本。",
    "unknown_chars": "有 {n} 个字符不在模型的字符表中：{chars}。请删掉它们，或使用在这类文本上训练的模型。",
    "val_fraction": "验证集比例必须大于等于 0 且小于 1，收到的是 {value}。",
    "vocab_invalid": "字符表必须由互不相同的单个字符组成，且至少有一个字符。",
    "top_n_range": "Top-N 必须是 1 到字符表大小（{vocab_size}）之间的整数；收到的是 {value}。",
    "temperature_range": "温度必须大于 0 且不超过 100；收到的是 {value}。",
    "length_range": "长度必须是大于等于 0 的整数；收到的是 {value}。",
    "prime_empty": "起始文本是空的：请至少输入一个字符。",
    "prime_too_long": "起始文本有 {n:,} 个字符，上限是 {limit:,}。",
    "prime_unknown": "起始文本中有模型从未见过的字符：{chars}。请删掉它们。",
    "model_vocab_mismatch": "模型和字符表的大小不一致。",
    "invalid_settings": "训练设置无效：{problems}。",
    "setting_type": "训练设置 {name!r} 的类型不对。",
    "unknown_preset": "没有名为 {name!r} 的预设；可选：{choices}。",
    "corpus_missing": "这台电脑上没有内置语料 {name!r}。请用 “python -m charlm download {name}” 下载（见 README）。",
    "no_python_source": "无法读取这台电脑上的 Python 标准库源代码。",
    "unknown_corpus": "没有名为 {name!r} 的语料。",
    "data_dir": "无法创建文件夹 {name}（{detail}）；请把 CHARLM_DATA_DIR 设为一个可写的文件夹。",
    "download_failed": "无法下载 {name}（{detail}）。请检查网络，或者自己把文件放进数据文件夹。",
    "download_checksum": "下载的 {name} 已损坏或与预期的文本不符，已删除。",
    "val_too_short": "验证部分只有 {n_chars:,} 个字符，不够一条 num_steps={num_steps}（+1）的序列。请使用更长的文本、"
                     "更大的验证集比例、更小的 M，或把验证集比例设为 0 以跳过验证。",
    "resume_vocab": "这个检查点是在字符表不同的文本上训练的；请在同一份文本上继续训练。",
    "resume_changed": "不能修改 {fields} 之后继续训练；请保持检查点原来的设置。",
    "resume_weights_only": "这个检查点只有权重（没有优化器状态），无法从它继续训练。",
    "diverged": "训练发散了：第 {step} 步的损失变成了 {loss}。请降低学习率（当前为 {lr:g}），或保持梯度裁剪开启。"
                "{checkpoint_hint}",
    "server_busy": "服务器正忙：已经有 {running} 个训练在进行（上限是 {limit} 个）。请过一分钟再试，"
                   "或者先用训练好的模型生成文本。",
    "job_started": "这个训练任务已经启动过了。",
    "train_crashed": "训练意外失败（{kind}）。",
    "toy_word": "请输入一个 2 到 40 个字符的单词。",
    "toy_steps": "训练步数必须在 1 到 5000 之间。",
    "toy_distinct": "这个单词至少需要两个不同的字符。",
    "gradient_short": "测量梯度需要至少 3 个字符的序列。",
    "passage_empty": "请给出一段要查看的文字。",
    "passage_too_long": "段落最多 5,000 个字符。",
    "passage_unknown": "这段文字中有模型从未见过的字符：{chars}。",
    "model_cell": "单元类型必须是 lstm、gru 或 rnn；收到的是 {value!r}。",
    "model_sizes": "字符表大小、隐藏单元数和层数都必须至少为 1。",
    "model_dropout": "Dropout 必须大于等于 0 且小于 1；收到的是 {value}。",
    "model_embedding": "嵌入维度必须是 0（独热编码）或正数。",
}

# Sentences the Chinese errors above are composed with (from the error's parameters).
HINTS_ZH: dict[str, str] = {
    "fit": "能放得下的形状：N={n}，M={m}。",
    "no_fit": "文本至少需要 2 个字符。",
    "utf16": "它看起来是 UTF-16 编码；请另存为 UTF-8。",
    "checkpoint": "最后一个正常的检查点是 {path}。",
}

# English phrases charlm passes in error parameters, and their Chinese.
TERMS_ZH: dict[str, str] = {
    "The text": "文本",
    "The training part of the text": "文本的训练部分",
    "The validation part": "验证部分",
}
