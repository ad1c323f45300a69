"""The curriculum: all 38 topics and 5 milestones, in one place.

Everything else (the runner, progress.toml, the milestone harness, the tests)
reads this registry. A topic is *built* when its folder under ``tracks/``
exists; topics not built yet are still listed, with the exercises planned
for them, so a learner sees the whole road.

Names: topic 3 is ``3``, ``03``, ``t03``, ``topic3``, ``topic03``, its slug
``optimizers`` or its folder ``t03_optimizers``; :func:`find_topic` accepts
them all and, for anything else, raises :class:`UnknownTopic` listing the
valid names.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field

__all__ = [
    "Exercise",
    "Milestone",
    "Topic",
    "MODULES",
    "TOPICS",
    "MILESTONES",
    "UnknownTopic",
    "find_topic",
    "topic_by_number",
]


@dataclass(frozen=True)
class Exercise:
    """A piece of code the learner writes.

    ``functions`` are the names the learner's file must define for this
    exercise (a forward/backward pair, a factory, a class). A name shared
    by several exercises (the ``Tensor`` class of topic 02) is taken from the
    learner's file only when all of those exercises pass.
    """

    name: str
    summary: str
    functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Milestone:
    key: str
    title: str
    topic: int
    target: str


@dataclass(frozen=True)
class Topic:
    number: int
    slug: str
    title: str
    module: int
    prerequisites: tuple[int, ...]
    exercises: tuple[Exercise, ...]
    run: str
    oracle: str
    milestone: str | None = None
    aliases: tuple[str, ...] = field(default=())

    @property
    def folder(self) -> str:
        """Folder name under ``tracks/`` and the topic's key in progress.toml."""
        return f"t{self.number:02d}_{self.slug}"

    @property
    def package(self) -> str:
        return f"tracks.{self.folder}"

    @property
    def label(self) -> str:
        return f"topic {self.number:02d}"

    @property
    def built(self) -> bool:
        """True when ``tracks/<folder>/checks.py`` exists."""
        try:
            return importlib.util.find_spec(f"{self.package}.checks") is not None
        except ModuleNotFoundError:
            return False

    def exercise(self, name: str) -> Exercise:
        for ex in self.exercises:
            if ex.name == name:
                return ex
        raise KeyError(f"{self.label} has no exercise {name!r}; it has {', '.join(self.exercise_names)}")

    @property
    def exercise_names(self) -> tuple[str, ...]:
        return tuple(ex.name for ex in self.exercises)

    @property
    def functions(self) -> tuple[str, ...]:
        """Every name the learner's file defines, in exercise order, without repeats."""
        seen: dict[str, None] = {}
        for ex in self.exercises:
            for fn in ex.functions:
                seen.setdefault(fn, None)
        return tuple(seen)


MODULES: dict[int, str] = {
    0: "Foundations",
    1: "Neural network core",
    2: "Convolutional networks",
    3: "Sequence models",
    4: "Transformers & production",
    5: "Bonus: LLM systems",
}


def _ex(name: str, summary: str, *functions: str) -> Exercise:
    return Exercise(name=name, summary=summary, functions=functions)


def _pair(name: str, summary: str) -> Exercise:
    """A forward/backward exercise: ``<name>_forward`` and ``<name>_backward``."""
    return Exercise(name=name, summary=summary, functions=(f"{name}_forward", f"{name}_backward"))


def _planned(*names: str) -> tuple[Exercise, ...]:
    """Exercises of a topic not built yet: named, with no functions fixed."""
    return tuple(Exercise(name=n, summary="planned") for n in names)


_OPTIMIZER = "init/update pair matching optax step for step"

TOPICS: tuple[Topic, ...] = (
    # ---------------------------------------------------------------- Module 0
    Topic(
        1, "tensor_ops", "Tensor operations & broadcasting", 0, (),
        (
            _ex("broadcast_shape", "the shape NumPy broadcasting gives, or ValueError", "broadcast_shape"),
            _ex("unbroadcast", "sum a gradient back to an input's shape", "unbroadcast"),
            _pair("add", "a + b with broadcasting"),
            _pair("mul", "a * b with broadcasting"),
            _pair("div", "a / b with broadcasting"),
            _pair("pow", "a ** b for a > 0, gradients for both"),
            _pair("exp", "exp(x)"),
            _pair("log", "log(x) for x > 0"),
            _pair("tanh", "tanh(x)"),
            _pair("sum", "sum over axes, keepdims or not"),
            _pair("mean", "mean over axes"),
            _pair("max", "max over axes; ties share the gradient"),
            _pair("reshape", "reshape"),
            _pair("transpose", "transpose with an axis permutation"),
            _pair("matmul", "batched matmul with broadcast batch axes"),
        ),
        run="vectorised vs Python-loop timing table",
        oracle="jnp + jax.vjp",
        aliases=("broadcasting",),
    ),
    Topic(
        2, "autograd", "Autograd engine from scratch", 0, (1,),
        (
            _ex("backward", "topological sort, gradient accumulation, deep graphs", "Tensor"),
            _ex("elementwise", "+ - * / ** and negation with broadcasting", "Tensor"),
            _ex("unary", "exp, log, tanh, relu", "Tensor"),
            _ex("matmul", "matrix product, batched", "Tensor"),
            _ex("reductions", "sum, mean, max over axes", "Tensor"),
            _ex("shape_ops", "reshape, transpose, indexing", "Tensor"),
            _ex("random_graphs", "randomly generated expression graphs vs jax.grad", "Tensor"),
        ),
        run="train a tiny MLP with the engine",
        oracle="jax.grad on the same programs",
    ),
    Topic(
        3, "optimizers", "Optimization algorithms", 0, (1, 2),
        (
            _ex("sgd", _OPTIMIZER, "sgd"),
            _ex("momentum", _OPTIMIZER, "momentum"),
            _ex("nesterov", _OPTIMIZER, "nesterov"),
            _ex("adagrad", _OPTIMIZER, "adagrad"),
            _ex("rmsprop", _OPTIMIZER, "rmsprop"),
            _ex("adam", _OPTIMIZER, "adam"),
            _ex("adamw", _OPTIMIZER, "adamw"),
            _ex("clip_by_global_norm", "rescale all gradients when their global norm is too large", "clip_by_global_norm"),
            _ex("chain", "compose transformations in order", "chain"),
            _ex("step_schedule", "piecewise-constant learning rate", "step_schedule"),
            _ex("warmup_cosine_schedule", "linear warmup then cosine decay", "warmup_cosine_schedule"),
        ),
        run="optimizer paths on Rosenbrock and an ill-conditioned quadratic",
        oracle="optax, trajectories step for step",
        aliases=("optim",),
    ),
    # ---------------------------------------------------------------- Module 1
    Topic(
        4, "perceptron", "Single layer perceptron", 1, (1, 3),
        (
            _ex("perceptron", "the perceptron rule: update on a mistake", "perceptron_step"),
            _pair("sigmoid", "logistic sigmoid, stable for large |z|"),
            _ex("logistic_regression", "mean binary cross-entropy of a linear model, and its gradient",
                "logistic_forward", "logistic_backward"),
        ),
        run="decision boundaries on 2-D data", oracle="jnp, optax.sigmoid_binary_cross_entropy",
    ),
    Topic(
        5, "mlp_forward", "MLP forward pass", 1, (4,),
        (
            _ex("linear", "x @ W + b over any batch shape", "linear_forward"),
            _ex("init_mlp", "parameter pytree for given layer sizes", "init_mlp"),
            _ex("mlp", "stack of linear layers with ReLU between", "mlp_forward"),
        ),
        run="forward on a batch, shapes shown", oracle="jnp",
    ),
    Topic(
        6, "backprop", "Backpropagation", 1, (5,),
        (
            _pair("linear", "backward of the linear layer: dx, dW, db"),
            _pair("mlp", "backward through the whole MLP by the chain rule"),
            _ex("numerical_gradient", "central differences of a scalar function", "numerical_gradient"),
        ),
        run="gradient-check table", oracle="jax.vjp + central differences",
    ),
    Topic(
        7, "activations_init", "Activations & initialization", 1, (6,),
        (
            _pair("relu", "max(x, 0)"),
            _pair("leaky_relu", "x for x > 0, alpha x otherwise"),
            _pair("gelu", "x Phi(x), exact or tanh approximation"),
            _pair("silu", "x sigmoid(x)"),
            _pair("sigmoid", "1 / (1 + exp(-x)), stable"),
            _pair("tanh", "tanh(x)"),
            _pair("softmax", "softmax over an axis, stable"),
            _pair("log_softmax", "log-softmax over an axis, stable"),
            _ex("init", "Glorot/Xavier, He/Kaiming, LeCun initializers",
                "glorot_uniform", "he_normal", "lecun_normal"),
        ),
        run="activation statistics through 20+ layers per init", oracle="jax.nn",
    ),
    Topic(
        8, "losses", "Loss functions", 1, (7,),
        (
            _pair("mse", "mean squared error"),
            _pair("huber", "Huber loss with threshold delta"),
            _pair("bce_with_logits", "binary cross-entropy from logits, stable"),
            _pair("softmax_cross_entropy", "cross-entropy of integer labels from logits, stable"),
            _pair("label_smoothing", "cross-entropy against smoothed one-hot targets"),
            _pair("kl_divergence", "KL(targets || predictions) from log-predictions"),
        ),
        run="loss curves", oracle="optax losses",
    ),
    Topic(
        9, "regularization", "Regularization", 1, (3, 5, 6, 7, 8),
        (
            _pair("l1", "lambda * sum |w| over a parameter pytree"),
            _pair("l2", "lambda / 2 * sum w^2 over a parameter pytree"),
            _ex("weight_decay", "decoupled weight decay as a gradient transformation", "add_decayed_weights"),
            _pair("dropout", "inverted dropout, checkable with a passed-in mask"),
            _ex("early_stopping", "stop when validation stops improving", "early_stopping"),
        ),
        run="over-fitting vs regularized curves", oracle="jnp / optax",
    ),
    Topic(
        10, "mnist", "End-to-end MNIST", 1, (3, 5, 6, 7, 8, 9),
        (
            _ex("data_pipeline", "scale images, shuffled mini-batches", "preprocess", "iterate_minibatches"),
            _ex("training_loop", "one optimisation step: forward, loss, backward, update", "train_step"),
            _ex("evaluation", "loss and accuracy over a data set in batches", "evaluate"),
        ),
        run="train an MLP on MNIST or Fashion-MNIST", oracle="jax.grad + optax", milestone="first_neural_network",
    ),
    # ---------------------------------------------------------------- Module 2
    Topic(11, "conv2d", "Conv2D sliding window", 2, (6,),
          _planned("conv2d"), run="feature maps of an edge filter", oracle="lax.conv_general_dilated"),
    Topic(12, "im2col", "Im2col vectorization", 2, (11,),
          _planned("im2col", "col2im", "conv2d_gemm"),
          run="speed table: loops vs im2col vs lax", oracle="lax.conv_general_dilated"),
    Topic(13, "pooling", "Pooling & strides", 2, (12,),
          _planned("max_pool", "avg_pool", "global_avg_pool", "strided_conv"),
          run="-", oracle="lax.reduce_window"),
    Topic(14, "resnet", "ResNet skip connections", 2, (12, 13),
          _planned("residual_block"), run="gradient norm per layer: plain vs residual", oracle="JAX"),
    Topic(15, "modern_convs", "Modern convolutions", 2, (12,),
          _planned("depthwise", "pointwise", "separable", "grouped", "dilated"),
          run="parameter/FLOP table", oracle="lax.conv_general_dilated"),
    Topic(16, "normalization", "Advanced normalizations", 2, (6,),
          _planned("batchnorm", "layernorm", "groupnorm", "instancenorm", "rmsnorm"), run="-", oracle="JAX"),
    Topic(17, "cifar10", "CIFAR-10 from scratch", 2, (14, 16),
          _planned("resnet_training"), run="train a ResNet on CIFAR-10", oracle="-", milestone="cnn_expert"),
    # ---------------------------------------------------------------- Module 3
    Topic(18, "rnn", "Vanilla RNN", 3, (6, 3),
          _planned("rnn_cell", "bptt", "gradient_clipping"), run="a memory task", oracle="lax.scan"),
    Topic(19, "lstm", "LSTM gates", 3, (18,),
          _planned("lstm_cell", "lstm_sequence"), run="memory task, longer horizon", oracle="JAX"),
    Topic(20, "gru", "GRU variant", 3, (18,), _planned("gru"), run="-", oracle="JAX"),
    Topic(21, "bidirectional", "Bidirectional RNNs & masking", 3, (19,),
          _planned("bidirectional", "masking"), run="-", oracle="JAX"),
    Topic(22, "word2vec", "Word embeddings (word2vec)", 3, (8,),
          _planned("skip_gram_negative_sampling", "subsampling", "noise_distribution"),
          run="nearest neighbours on a real corpus", oracle="JAX"),
    Topic(23, "seq2seq", "Seq2Seq encoder-decoder", 3, (19,),
          _planned("encoder", "decoder", "teacher_forcing", "greedy_decoding"),
          run="synthetic translation task", oracle="JAX"),
    Topic(24, "bahdanau_attention", "Attention mechanism (Bahdanau)", 3, (23,),
          _planned("additive_attention"), run="attention vs no attention on translation", oracle="JAX",
          milestone="sequence_master"),
    # ---------------------------------------------------------------- Module 4
    Topic(25, "self_attention", "Efficient self-attention", 4, (7, 8),
          _planned("scaled_dot_product_attention", "masks", "chunked_attention"),
          run="memory/time vs sequence length", oracle="jax.nn.dot_product_attention"),
    Topic(26, "multi_head_attention", "Multi-head attention", 4, (25,),
          _planned("multi_head_attention", "grouped_query_attention"), run="-", oracle="JAX"),
    Topic(27, "positional_encodings", "Positional encodings", 4, (26,),
          _planned("sinusoidal", "learned", "rope", "alibi"), run="-", oracle="JAX"),
    Topic(28, "encoder_block", "Transformer encoder block", 4, (16, 26, 27),
          _planned("encoder_block"), run="-", oracle="JAX"),
    Topic(29, "decoder_block", "Transformer decoder block", 4, (28,),
          _planned("causal_self_attention", "cross_attention", "decoder_block"), run="-", oracle="JAX"),
    Topic(30, "mini_gpt", "Mini-GPT training", 4, (3, 7, 8, 16, 25, 26, 27, 28, 29),
          _planned("tokenizer", "gpt", "training_loop", "sampling"),
          run="train a mini-GPT and generate text", oracle="JAX", milestone="transformer_builder",
          aliases=("gpt",)),
    Topic(31, "kv_cache", "KV-cache optimization", 4, (30,),
          _planned("kv_cache_decoding"), run="tokens/s vs length, cache vs none", oracle="JAX"),
    Topic(32, "flash_attention", "FlashAttention & gradient checkpointing", 4, (25, 30),
          _planned("flash_forward", "flash_backward", "checkpointing"),
          run="peak memory and time vs sequence length", oracle="standard attention"),
    Topic(33, "quantization", "Quantization & efficiency", 4, (30,),
          _planned("int8_absmax", "int8_zero_point", "fake_quant", "nf4", "quantized_matmul"),
          run="quantized mini-GPT: memory vs loss", oracle="JAX"),
    Topic(34, "distributed", "Distributed training logic", 4, (30,),
          _planned("ring_all_reduce", "data_parallel", "zero_sharding", "tensor_parallel", "pipeline"),
          run="communication volume per step", oracle="single-device training", milestone="production_ready"),
    # ---------------------------------------------------------------- Module 5
    Topic(35, "lora", "LoRA & QLoRA", 5, (30, 33),
          _planned("lora", "merge_unmerge", "qlora"), run="fine-tune the mini-GPT on new text", oracle="JAX"),
    Topic(36, "speculative_decoding", "Speculative decoding", 5, (31,),
          _planned("speculative_sampling"), run="acceptance rate and speed-up vs draft quality",
          oracle="exact distribution"),
    Topic(37, "moe", "Mixture-of-Experts routing", 5, (30,),
          _planned("top_k_gating", "capacity", "load_balancing_loss", "dispatch_combine"),
          run="expert load histogram", oracle="JAX"),
    Topic(38, "mamba", "SSM & Mamba selective scan", 5, (30,),
          _planned("discretization", "sequential_scan", "parallel_scan", "mamba_block"),
          run="time vs length: sequential, parallel, kernel", oracle="lax.associative_scan"),
)

MILESTONES: tuple[Milestone, ...] = (
    Milestone("first_neural_network", "First Neural Network", 10,
              ">= 98% MNIST (89.5% Fashion-MNIST) test accuracy, NumPy only"),
    Milestone("cnn_expert", "CNN Expert", 17, "a ResNet trained on CIFAR-10"),
    Milestone("sequence_master", "Sequence Master", 24, "Bahdanau attention seq2seq"),
    Milestone("transformer_builder", "Transformer Builder", 30, "coherent text generation"),
    Milestone("production_ready", "Production Ready", 34, "all advanced topics (31-34) pass"),
)


class UnknownTopic(LookupError):
    """Raised by :func:`find_topic`; its message lists the valid names."""


def topic_by_number(number: int) -> Topic:
    for topic in TOPICS:
        if topic.number == number:
            return topic
    raise UnknownTopic(
        f"there is no topic {number}; topics are numbered 1 to {len(TOPICS)} "
        f"(python -m fdl.progress lists them)"
    )


_NUMBERED = re.compile(r"^(?:topic|t)?[-_ ]?0*(\d+)$")


def find_topic(name: str | int) -> Topic:
    """The topic a learner means by ``name``; see the module docstring."""
    if isinstance(name, int):
        return topic_by_number(name)
    key = str(name).strip().lower()
    match = _NUMBERED.match(key)
    if match:
        return topic_by_number(int(match.group(1)))
    key = key.replace("-", "_")
    for topic in TOPICS:
        if key in (topic.slug, topic.folder, *topic.aliases):
            return topic
    examples = ", ".join(f"{t.number:02d} {t.slug}" for t in TOPICS)
    raise UnknownTopic(
        f"unknown topic {name!r}. Name a topic by number (3, 03, t03, topic03) or slug. "
        f"Topics: {examples}"
    )
