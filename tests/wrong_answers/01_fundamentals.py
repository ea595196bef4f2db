"""Wrong answers for 01_fundamentals (see tests/catalogue.py)."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from course import data
from tests.wrong_answers import answer, helper, wrong

# --- Exercise 1: dropout ----------------------------------------------------------------------


@wrong("dropout", "survivors are not rescaled by 1/(1-p)")
def dropout_no_rescale(x, p, training, generator=None):
    if not training:
        return x.clone()
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x * keep


@wrong("dropout", "survivors multiplied by (1-p) instead of divided")
def dropout_times_keep_probability(x, p, training, generator=None):
    if not training:
        return x.clone()
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x * keep * (1 - p)


@wrong("dropout", "keeps each element with probability p (p read as the keep probability)")
def dropout_p_is_keep_probability(x, p, training, generator=None):
    if not training or p == 0:
        return x.clone()
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) < p
    return x * keep / p


@wrong("dropout", "drops units in evaluation mode too")
def dropout_ignores_training(x, p, training, generator=None):
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x * keep / (1 - p)


@wrong("dropout", "original (non-inverted) dropout: no scaling in training, times (1-p) at test time")
def dropout_scaled_at_test_time(x, p, training, generator=None):
    if not training:
        return x * (1 - p)
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x * keep


@wrong("dropout", "modifies x in place")
def dropout_in_place(x, p, training, generator=None):
    if not training or p == 0:
        return x
    if p == 1:
        return x.zero_()
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x.mul_(keep).div_(1 - p)


@wrong("dropout", "p = 1 divides zero by zero (NaN)")
def dropout_nan_at_p1(x, p, training, generator=None):
    if not training:
        return x.clone()
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x * keep / (1 - p)


@wrong("dropout", "ignores the generator (not reproducible)")
def dropout_ignores_generator(x, p, training, generator=None):
    if not training or p == 0:
        return x.clone()
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, dtype=x.dtype) >= p
    return x * keep / (1 - p)


@wrong("dropout", "one mask shared by every row (drawn over the last dimension only)")
def dropout_one_mask_per_feature(x, p, training, generator=None):
    if not training or p == 0:
        return x.clone()
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape[-1], generator=generator, dtype=x.dtype) >= p
    return x * keep / (1 - p)


@wrong("dropout", "returns float32 whatever the input dtype")
def dropout_float32(x, p, training, generator=None):
    if not training or p == 0:
        return x.clone().float()
    if p == 1:
        return torch.zeros_like(x, dtype=torch.float32)
    keep = torch.rand(x.shape, generator=generator) >= p
    return (x * keep / (1 - p)).float()


@wrong("dropout", "calls torch's own dropout")
def dropout_calls_torch(x, p, training, generator=None):
    return F.dropout(x, p, training)


# --- Exercise 2: batch_norm -------------------------------------------------------------------


@helper
def _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, *, normalise_correction=0,
        running_correction=1, dim=0, eps_inside=True, reverse_momentum=False, eval_batch_stats=False,
        train_running_stats=False, in_place=False, eval_updates=False):
    """The reference algorithm with switches for one bug each (the mutants below use it)."""
    w_old, w_new = (momentum, 1 - momentum) if reverse_momentum else (1 - momentum, momentum)
    new_mean, new_var = running_mean.clone(), running_var.clone()
    batch_mean = batch_var = None
    if training or eval_batch_stats or eval_updates:
        batch_mean = x.mean(dim=dim, keepdim=dim == 1)
        batch_var = x.var(dim=dim, correction=normalise_correction, keepdim=dim == 1)
    if training or eval_updates:
        if dim == 0:
            running_batch_var = x.var(dim=0, correction=running_correction) if x.shape[0] > 1 else batch_var
            new_mean = w_old * running_mean + w_new * batch_mean
            new_var = w_old * running_var + w_new * running_batch_var
        else:
            new_mean = w_old * running_mean + w_new * batch_mean.mean()
            new_var = w_old * running_var + w_new * batch_var.mean()
    if in_place:
        running_mean.copy_(new_mean)
        running_var.copy_(new_var)
        new_mean, new_var = running_mean, running_var
    use_batch = (training and not train_running_stats) or (not training and eval_batch_stats)
    mean, var = (batch_mean, batch_var) if use_batch else (running_mean, running_var)
    scale = torch.sqrt(var + eps) if eps_inside else torch.sqrt(var) + eps
    return gamma * (x - mean) / scale + beta, new_mean, new_var


@wrong("batch_norm", "running variance updated with the biased batch variance")
def batch_norm_biased_running_var(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, running_correction=0)


@wrong("batch_norm", "momentum weighs the old statistics (reversed)")
def batch_norm_momentum_reversed(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, reverse_momentum=True)


@wrong("batch_norm", "normalises with the unbiased batch variance")
def batch_norm_unbiased_normalisation(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                                      eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, normalise_correction=1)


@wrong("batch_norm", "eps added outside the square root")
def batch_norm_eps_outside_sqrt(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, eps_inside=False)


@wrong("batch_norm", "statistics over the features of each example (dim=1) instead of over the batch")
def batch_norm_wrong_axis(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, dim=1)


@wrong("batch_norm", "evaluation mode normalises with the batch's statistics")
def batch_norm_eval_batch_stats(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, eval_batch_stats=True)


@wrong("batch_norm", "training mode normalises with the running statistics")
def batch_norm_train_running_stats(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, train_running_stats=True)


@wrong("batch_norm", "updates the caller's running statistics in place")
def batch_norm_in_place(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, in_place=True)


@wrong("batch_norm", "evaluation mode still updates the running statistics")
def batch_norm_eval_updates(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps, eval_updates=True)


@wrong("batch_norm", "forgets eps")
def batch_norm_no_eps(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, gamma, beta, running_mean, running_var, training, momentum, 0.0)


@wrong("batch_norm", "gamma and beta swapped")
def batch_norm_affine_swapped(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return _bn(x, beta, gamma, running_mean, running_var, training, momentum, eps)


@wrong("batch_norm", "calls torch's batch norm")
def batch_norm_calls_torch(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    new_mean, new_var = running_mean.clone(), running_var.clone()
    y = F.batch_norm(x, new_mean, new_var, gamma, beta, training=training, momentum=momentum, eps=eps)
    return y, new_mean, new_var


@wrong("batch_norm", "evaluation mode returns the caller's running statistics themselves (aliases, not copies)")
def batch_norm_eval_aliases(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    y, new_mean, new_var = _bn(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    if not training:
        return y, running_mean, running_var
    return y, new_mean, new_var


# --- Exercise 3: layer_norm -------------------------------------------------------------------


@helper
def _ln(x, gamma, beta, eps, *, correction=0, dim=-1, eps_inside=True, affine=True):
    """The reference layer norm with switches for one bug each (the mutants below use it)."""
    mean = x.mean(dim=dim, keepdim=True)
    var = x.var(dim=dim, keepdim=True, correction=correction)
    y = (x - mean) / (torch.sqrt(var + eps) if eps_inside else torch.sqrt(var) + eps)
    return gamma * y + beta if affine else y


@wrong("layer_norm", "unbiased variance")
def layer_norm_unbiased(x, gamma, beta, eps=1e-5):
    return _ln(x, gamma, beta, eps, correction=1)


@wrong("layer_norm", "normalises over the batch (dim 0), as batch norm would")
def layer_norm_over_batch(x, gamma, beta, eps=1e-5):
    return _ln(x, gamma, beta, eps, dim=0)


@wrong("layer_norm", "eps added outside the square root")
def layer_norm_eps_outside_sqrt(x, gamma, beta, eps=1e-5):
    return _ln(x, gamma, beta, eps, eps_inside=False)


@wrong("layer_norm", "dim=1 hard-coded (right for 2-D input only)")
def layer_norm_dim_1(x, gamma, beta, eps=1e-5):
    return _ln(x, gamma, beta, eps, dim=1)


@wrong("layer_norm", "forgets gamma and beta")
def layer_norm_no_affine(x, gamma, beta, eps=1e-5):
    return _ln(x, gamma, beta, eps, affine=False)


@wrong("layer_norm", "forgets eps")
def layer_norm_no_eps(x, gamma, beta, eps=1e-5):
    return _ln(x, gamma, beta, 0.0)


@wrong("layer_norm", "calls torch's layer norm")
def layer_norm_calls_torch(x, gamma, beta, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)


# --- Exercise 4: which layers does model.eval() change? -----------------------------------------

answer("eval_changes", "only_dropout", "forgets batch norm", '{"Dropout"}')
answer("eval_changes", "adds_layernorm", "thinks layer norm keeps running statistics",
       '{"Dropout", "BatchNorm1d", "LayerNorm"}')
answer("eval_changes", "layers_with_parameters", "confuses eval() with freezing parameters",
       '{"Linear", "BatchNorm1d", "LayerNorm", "Embedding"}')
answer("eval_changes", "a_list", "answers with a list instead of a set", '["Dropout", "BatchNorm1d"]')

# --- Exercises 5-7: normalisation concept checks -----------------------------------------------

answer("ln_reduce_dims", "ln_over_tokens_too", "layer norm over tokens and features", "(1, 2)")
answer("ln_reduce_dims", "a_list", "answers with a list instead of a tuple", "[2]")
answer("bn_reduce_dims", "bn_over_batch_only", "batch norm over the batch dimension only", "(0,)")
answer("bn_reduce_dims", "bn_like_ln", "batch norm over the batch and the features", "(0, 2)")
answer("ln_for_sequences", "gaussian", "thinks layer norm makes features Gaussian", '"A"')
answer("ln_for_sequences", "running_averages", "thinks layer norm keeps running averages", '"B"')
answer("ln_for_sequences", "lower_case", "answers in lower case", '"c"')
answer("variance_ratio", "inverted", "the training/evaluation ratio instead of evaluation/training", "2.0")
answer("variance_ratio", "no_shift", "believes there is no variance shift", "1.0")
answer("variance_ratio", "a_tensor", "leaves the answer as a tensor (forgot .item())", "torch.tensor(0.5)")

# --- Exercise 8: gelu --------------------------------------------------------------------------


@wrong("gelu", "sigmoid approximation x * sigmoid(1.702 x) for the exact form")
def gelu_sigmoid_approximation(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return x * torch.sigmoid(1.702 * x)


@wrong("gelu", "ignores `approximate` (always the exact form)")
def gelu_always_exact(x, approximate="none"):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


@wrong("gelu", "tanh written with exponentials, which overflow to inf/inf = nan")
def gelu_tanh_overflows(x, approximate="none"):
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1 + (torch.exp(2 * u) - 1) / (torch.exp(2 * u) + 1))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


@wrong("gelu", "tanh approximation without the cubic term")
def gelu_tanh_no_cubic(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * x))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


@wrong("gelu", "computes in float64 for accuracy: a float32 input comes back as float64")
def gelu_in_float64(x, approximate="none"):
    x = x.double()
    if approximate == "tanh":
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


# --- Exercise 8b: collapse_linear ---------------------------------------------------------------


@wrong("collapse_linear", "adds up the biases without passing them through the later weights")
def collapse_linear_summed_biases(weights, biases):
    W, b = weights[0].clone(), biases[0].clone()
    for W_l, b_l in zip(weights[1:], biases[1:], strict=True):
        W, b = W @ W_l, b + b_l if b.shape == b_l.shape else b_l
    return W, b


@wrong("collapse_linear", "keeps only the last layer's bias")
def collapse_linear_last_bias(weights, biases):
    W = weights[0].clone()
    for W_l in weights[1:]:
        W = W @ W_l
    return W, biases[-1].clone()


@wrong("collapse_linear", "returns the first layer's own tensors for a one-layer stack (aliases)")
def collapse_linear_aliases(weights, biases):
    W, b = weights[0], biases[0]
    for W_l, b_l in zip(weights[1:], biases[1:], strict=True):
        W, b = W @ W_l, b @ W_l + b_l
    return W, b


# --- Exercise 8c: activation facts -----------------------------------------------------------------

answer("activation_facts", "gelu_saturates", "counts GELU among the saturating activations",
       '({"sigmoid", "tanh", "GELU"}, {"ReLU"}, 0.5)')
answer("activation_facts", "gelu_dead", "thinks GELU's derivative is exactly 0 for negative inputs",
       '({"sigmoid", "tanh"}, {"ReLU", "GELU"}, 0.5)')
answer("activation_facts", "no_sparsity", "thinks He initialisation keeps every ReLU unit active",
       '({"sigmoid", "tanh"}, {"ReLU"}, 0.0)')
answer("activation_facts", "lists", "lists instead of sets", '(["sigmoid", "tanh"], ["ReLU"], 0.5)')


# --- Exercise 9: mlp_backward ------------------------------------------------------------------


@helper
def _mlp(x, y, W1, b1, W2, b2, scale, relu_mask, bias_reduce=torch.sum):
    z = x @ W1 + b1
    h = torch.relu(z)
    out = h @ W2 + b2
    d_out = 2 * (out - y) / scale(out)
    d_z = (d_out @ W2.T) * relu_mask(z)
    loss = ((out - y) ** 2).mean()
    return {"loss": loss, "dW1": x.T @ d_z, "db1": bias_reduce(d_z, dim=0), "dW2": h.T @ d_out,
            "db2": bias_reduce(d_out, dim=0)}


@wrong("mlp_backward", "divides by the batch size N instead of N*K elements")
def mlp_mean_over_batch_only(x, y, W1, b1, W2, b2):
    return _mlp(x, y, W1, b1, W2, b2, lambda out: out.shape[0], lambda z: z > 0)


@wrong("mlp_backward", "relu derivative 1 at z = 0 (z >= 0)")
def mlp_relu_grad_at_zero(x, y, W1, b1, W2, b2):
    return _mlp(x, y, W1, b1, W2, b2, lambda out: out.numel(), lambda z: z >= 0)


@wrong("mlp_backward", "forgets the relu derivative")
def mlp_no_relu_derivative(x, y, W1, b1, W2, b2):
    return _mlp(x, y, W1, b1, W2, b2, lambda out: out.numel(), lambda z: torch.ones_like(z))


@wrong("mlp_backward", "averages the bias gradients over the batch instead of summing")
def mlp_bias_mean(x, y, W1, b1, W2, b2):
    return _mlp(x, y, W1, b1, W2, b2, lambda out: out.numel(), lambda z: z > 0, bias_reduce=torch.mean)


@wrong("mlp_backward", "the notes' derivative: multiplies by the weight instead of the layer input")
def mlp_notes_weight_factor(x, y, W1, b1, W2, b2):
    z = x @ W1 + b1
    out = torch.relu(z) @ W2 + b2
    d_out = 2 * (out - y) / out.numel()
    d_z = (d_out @ W2.T) * (z > 0)
    return {"loss": ((out - y) ** 2).mean(), "dW1": W1 * d_z.sum(dim=0), "db1": d_z.sum(dim=0),
            "dW2": W2 * d_out.sum(dim=0), "db2": d_out.sum(dim=0)}


# --- Exercise 10: gradient_norms ---------------------------------------------------------------


@helper
def _norms_variant(depth, activation, init, seed, he_gain=2.0, reverse=False, loss_reduce=torch.mean,
                   weights_first=False):
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
    std = {"small": 0.01, "he": math.sqrt(he_gain / 64), "large": 2 * math.sqrt(he_gain / 64)}[init]
    g = data.torch_generator(seed)
    if not weights_first:
        h = torch.randn(128, 64, generator=g, dtype=torch.float64)
    weights = [(torch.randn(64, 64, generator=g, dtype=torch.float64) * std).requires_grad_() for _ in range(depth)]
    if weights_first:
        h = torch.randn(128, 64, generator=g, dtype=torch.float64)
    for W in weights:
        h = act(h @ W)
    norms = [grad.norm().item() for grad in torch.autograd.grad(loss_reduce(h**2), weights)]
    return norms[::-1] if reverse else norms


@wrong("gradient_norms", "list ordered from the output layer to the input layer")
def norms_reversed(depth, activation, init, seed):
    return _norms_variant(depth, activation, init, seed, reverse=True)


@wrong("gradient_norms", "He init with variance 1/fan_in (that is LeCun/Xavier-style)")
def norms_he_without_two(depth, activation, init, seed):
    return _norms_variant(depth, activation, init, seed, he_gain=1.0)


@wrong("gradient_norms", "loss summed instead of averaged")
def norms_loss_sum(depth, activation, init, seed):
    return _norms_variant(depth, activation, init, seed, loss_reduce=torch.sum)


@wrong("gradient_norms", "draws the weights before the inputs")
def norms_weights_first(depth, activation, init, seed):
    return _norms_variant(depth, activation, init, seed, weights_first=True)


# --- Exercise 11: sgd_momentum_step ------------------------------------------------------------


@wrong("sgd_momentum_step", "dampened momentum buf = m*buf + (1-m)*grad (an EMA)")
def sgd_dampened(param, grad, buf, lr, momentum, weight_decay=0.0):
    grad = grad + weight_decay * param
    buf = grad.clone() if buf is None else momentum * buf + (1 - momentum) * grad
    return param - lr * buf, buf


@wrong("sgd_momentum_step", "weight decay added after the momentum buffer")
def sgd_decay_outside_buffer(param, grad, buf, lr, momentum, weight_decay=0.0):
    buf = grad.clone() if buf is None else momentum * buf + grad
    return param - lr * (buf + weight_decay * param), buf


@wrong("sgd_momentum_step", "ignores weight decay")
def sgd_no_weight_decay(param, grad, buf, lr, momentum, weight_decay=0.0):
    buf = grad.clone() if buf is None else momentum * buf + grad
    return param - lr * buf, buf


@wrong("sgd_momentum_step", "updates the buffer in place (and aliases the first gradient)")
def sgd_in_place_buffer(param, grad, buf, lr, momentum, weight_decay=0.0):
    grad = grad + weight_decay * param
    buf = grad if buf is None else buf.mul_(momentum).add_(grad)
    return param - lr * buf, buf


# --- Exercise 12: rmsprop_step -----------------------------------------------------------------


@wrong("rmsprop_step", "eps inside the square root")
def rmsprop_eps_inside(param, grad, square_avg, lr, alpha=0.99, eps=1e-8):
    square_avg = alpha * square_avg + (1 - alpha) * grad**2
    return param - lr * grad / torch.sqrt(square_avg + eps), square_avg


@wrong("rmsprop_step", "alpha weighs the new squared gradient")
def rmsprop_alpha_swapped(param, grad, square_avg, lr, alpha=0.99, eps=1e-8):
    square_avg = (1 - alpha) * square_avg + alpha * grad**2
    return param - lr * grad / (square_avg.sqrt() + eps), square_avg


@wrong("rmsprop_step", "divides by the mean square, not its root")
def rmsprop_no_sqrt(param, grad, square_avg, lr, alpha=0.99, eps=1e-8):
    square_avg = alpha * square_avg + (1 - alpha) * grad**2
    return param - lr * grad / (square_avg + eps), square_avg


@wrong("rmsprop_step", "updates square_avg in place")
def rmsprop_in_place(param, grad, square_avg, lr, alpha=0.99, eps=1e-8):
    square_avg.mul_(alpha).add_((1 - alpha) * grad**2)
    return param - lr * grad / (square_avg.sqrt() + eps), square_avg


# --- Exercise 13: adam_step --------------------------------------------------------------------


@helper
def _adam(param, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, correction=lambda beta, t: 1 - beta**t,
          eps_inside=False, decay_lr=True, decay_after=False, sign=1.0):
    beta1, beta2 = betas
    if decoupled and not decay_after:
        param = param * (1 - (lr if decay_lr else 1.0) * weight_decay)
    elif not decoupled:
        grad = grad + weight_decay * param
    m = beta1 * m + sign * (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / correction(beta1, t), v / correction(beta2, t)
    denominator = torch.sqrt(v_hat + eps) if eps_inside else v_hat.sqrt() + eps
    param = param - sign * lr * m_hat / denominator
    if decoupled and decay_after:
        param = param * (1 - lr * weight_decay)
    return param, m, v


@wrong("adam_step", "the notes' betas: beta2 for the first moment, beta1 for the second")
def adam_betas_swapped(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                       decoupled=False):
    return _adam(param, grad, m, v, t, lr, betas[::-1], eps, weight_decay, decoupled)


@wrong("adam_step", "the notes' bias correction m / (1 - beta1) without the t-th power")
def adam_correction_without_power(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                  decoupled=False):
    return _adam(param, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, correction=lambda beta, t: 1 - beta)


@wrong("adam_step", "no bias correction")
def adam_no_correction(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                       decoupled=False):
    return _adam(param, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, correction=lambda beta, t: 1.0)


@wrong("adam_step", "t counted from 0 in the bias correction")
def adam_t_from_zero(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                     decoupled=False):
    return _adam(param, grad, m, v, t, lr, betas, eps, weight_decay, decoupled,
                 correction=lambda beta, t: 1 - beta ** (t - 1))


@wrong("adam_step", "the notes' sign: m accumulates the negative gradient, and the step follows m")
def adam_notes_sign(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    decoupled=False):
    beta1, beta2 = betas
    grad = grad + weight_decay * param
    m = beta1 * m - (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return param - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps), m, v


@wrong("adam_step", "AdamW's decay applied as L2 (decoupled ignored)")
def adamw_as_l2(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    return _adam(param, grad, m, v, t, lr, betas, eps, weight_decay, False)


@wrong("adam_step", "AdamW decay without the learning rate: param * (1 - weight_decay)")
def adamw_decay_without_lr(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                           decoupled=False):
    return _adam(param, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, decay_lr=False)


@wrong("adam_step", "AdamW decay applied after the Adam step")
def adamw_decay_after_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                           decoupled=False):
    return _adam(param, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, decay_after=True)


@wrong("adam_step", "eps inside the square root")
def adam_eps_inside(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    return _adam(param, grad, m, v, t, lr, betas, eps, weight_decay, decoupled, eps_inside=True)


@wrong("adam_step", "updates m and v in place (the caller's moment tensors change)")
def adam_in_place_moments(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                          decoupled=False):
    beta1, beta2 = betas
    if decoupled:
        param = param * (1 - lr * weight_decay)
    else:
        grad = grad + weight_decay * param
    m.mul_(beta1).add_((1 - beta1) * grad)
    v.mul_(beta2).add_((1 - beta2) * grad**2)
    return param - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps), m.clone(), v.clone()


# --- Exercise 14: lookahead_step ---------------------------------------------------------------


@wrong("lookahead_step", "alpha weighs the slow weights")
def lookahead_alpha_swapped(slow, fast, alpha):
    slow = slow + (1 - alpha) * (fast - slow)
    return slow, slow.clone()


@wrong("lookahead_step", "does not reset the fast weights")
def lookahead_no_reset(slow, fast, alpha):
    return slow + alpha * (fast - slow), fast.clone()


@wrong("lookahead_step", "returns one tensor as both slow and fast weights")
def lookahead_aliased(slow, fast, alpha):
    slow = slow + alpha * (fast - slow)
    return slow, slow


@wrong("lookahead_step", "moves the slow weights in place")
def lookahead_in_place(slow, fast, alpha):
    slow.add_(alpha * (fast - slow))
    return slow, slow.clone()


# --- Exercise 15: warmup_cosine_lr -------------------------------------------------------------


@helper
def _schedule(step, base_lr, warmup_steps, total_steps, min_lr, warmup_offset=1, clamp=True, floor=True):
    if step < warmup_steps:
        return base_lr * (step + warmup_offset) / warmup_steps
    if clamp and step >= total_steps:
        return float(min_lr if floor else 0.0)
    low = min_lr if floor else 0.0
    return low + 0.5 * (base_lr - low) * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps)))


@wrong("warmup_cosine_lr", "warmup starts at 0: base_lr * step / warmup_steps")
def lr_warmup_from_zero(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    return _schedule(step, base_lr, warmup_steps, total_steps, min_lr, warmup_offset=0)


@wrong("warmup_cosine_lr", "decays to 0 instead of min_lr")
def lr_ignores_min_lr(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    return _schedule(step, base_lr, warmup_steps, total_steps, min_lr, floor=False)


@wrong("warmup_cosine_lr", "the cosine rises again after total_steps (CosineAnnealingLR)")
def lr_no_clamp(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    return _schedule(step, base_lr, warmup_steps, total_steps, min_lr, clamp=False)


@wrong("warmup_cosine_lr", "cosine phase measured from step 0 over total_steps")
def lr_cosine_from_zero(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = min(step, total_steps) / total_steps
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))


@wrong("warmup_cosine_lr", "cosine amplitude base_lr instead of base_lr - min_lr (starts at base_lr + min_lr)")
def warmup_cosine_wrong_amplitude(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * base_lr * (1 + math.cos(math.pi * progress))


# --- Exercise 16: cross_entropy ----------------------------------------------------------------


@wrong("cross_entropy", "log of the softmax computed directly (overflows)")
def ce_naive(logits, target):
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    return -torch.log(probs[torch.arange(logits.shape[0]), target]).mean()


@wrong("cross_entropy", "shifts by the maximum of the whole batch instead of each row")
def ce_global_max(logits, target):
    shift = logits.max()
    log_sum_exp = shift + torch.log(torch.exp(logits - shift).sum(dim=1))
    return (log_sum_exp - logits[torch.arange(logits.shape[0]), target]).mean()


@wrong("cross_entropy", "sums over the batch")
def ce_sum(logits, target):
    shift = logits.max(dim=1, keepdim=True).values
    log_sum_exp = shift.squeeze(1) + torch.log(torch.exp(logits - shift).sum(dim=1))
    return (log_sum_exp - logits[torch.arange(logits.shape[0]), target]).sum()


@wrong("cross_entropy", "forgets to add the shift back")
def ce_shift_not_added_back(logits, target):
    shift = logits.max(dim=1, keepdim=True).values
    log_sum_exp = torch.log(torch.exp(logits - shift).sum(dim=1))
    return (log_sum_exp - logits[torch.arange(logits.shape[0]), target]).mean()


@wrong("cross_entropy", "subtracts the row maximum in place (changes the caller's logits)")
def cross_entropy_in_place(logits, target):
    row_max = logits.max(dim=1, keepdim=True).values
    logits -= row_max
    lse = torch.log(torch.exp(logits).sum(dim=1))
    return (lse - logits[torch.arange(logits.shape[0]), target]).mean()


# --- Exercise 17: kl_divergence ----------------------------------------------------------------


@wrong("kl_divergence", "arguments swapped: KL(q || p)")
def kl_swapped(p, q):
    return torch.where(q > 0, q * (torch.log(q) - torch.log(p)), torch.zeros_like(q)).sum(dim=-1)


@wrong("kl_divergence", "clamps q away from 0 (finite where KL is infinite)")
def kl_clamped(p, q):
    q = q.clamp_min(1e-12)
    return torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros_like(p)).sum(dim=-1)


@wrong("kl_divergence", "no 0 log 0 = 0 rule (nan where p = 0)")
def kl_naive(p, q):
    return (p * torch.log(p / q)).sum(dim=-1)


@wrong("kl_divergence", "base-2 logarithm")
def kl_log2(p, q):
    return torch.where(p > 0, p * (torch.log2(p) - torch.log2(q)), torch.zeros_like(p)).sum(dim=-1)


@wrong("kl_divergence", "sums over dim=1 (right for 2-D input only)")
def kl_dim1(p, q):
    terms = torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros_like(p))
    return terms.sum(dim=1)


# --- Exercise 18: focal_loss -------------------------------------------------------------------


@helper
def _focal(logits, targets, gamma, alpha, modulator=lambda p_t, gamma: (1 - p_t) ** gamma, swap_alpha=False,
           stable=True):
    p = torch.sigmoid(logits)
    if stable:
        ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    else:
        ce = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * modulator(p_t, gamma)
    if alpha is not None:
        a = 1 - alpha if swap_alpha else alpha
        loss = loss * (a * targets + (1 - a) * (1 - targets))
    return loss.mean()


@wrong("focal_loss", "alpha on the negatives, 1 - alpha on the positives")
def focal_alpha_swapped(logits, targets, gamma=2.0, alpha=0.25):
    return _focal(logits, targets, gamma, alpha, swap_alpha=True)


@wrong("focal_loss", "modulating factor p_t**gamma (amplifies easy examples)")
def focal_wrong_modulator(logits, targets, gamma=2.0, alpha=0.25):
    return _focal(logits, targets, gamma, alpha, modulator=lambda p_t, gamma: p_t**gamma)


@wrong("focal_loss", "log(sigmoid(z)) computed directly (-inf * 0 = nan for large logits)")
def focal_unstable(logits, targets, gamma=2.0, alpha=0.25):
    return _focal(logits, targets, gamma, alpha, stable=False)


@wrong("focal_loss", "crashes for alpha=None")
def focal_no_alpha_none(logits, targets, gamma=2.0, alpha=0.25):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    return (ce * (1 - p_t) ** gamma * (alpha * targets + (1 - alpha) * (1 - targets))).mean()


# --- Exercise 18b: hinge_loss -------------------------------------------------------------------


@wrong("hinge_loss", "no clipping at 0: the mean of margin - y * s")
def hinge_no_clip(scores, labels, margin=1.0):
    return (margin - labels * scores).mean()


@wrong("hinge_loss", "sums instead of averaging")
def hinge_sum(scores, labels, margin=1.0):
    return torch.clamp(margin - labels * scores, min=0).sum()


@wrong("hinge_loss", "ignores the margin argument (always 1)")
def hinge_margin_one(scores, labels, margin=1.0):
    return torch.clamp(1 - labels * scores, min=0).mean()


@wrong("hinge_loss", "squared hinge")
def hinge_squared(scores, labels, margin=1.0):
    return (torch.clamp(margin - labels * scores, min=0) ** 2).mean()


# --- Exercise 18c: softmax_focal_loss -----------------------------------------------------------


@wrong("softmax_focal_loss", "modulating factor p_y**gamma (amplifies the easy examples)")
def softmax_focal_amplifies(logits, target, gamma=2.0):
    log_p = F.log_softmax(logits, dim=1)[torch.arange(len(target)), target]
    return (-(log_p.exp() ** gamma) * log_p).mean()


@wrong("softmax_focal_loss", "log of the softmax (overflows to -inf for large logits)")
def softmax_focal_log_of_softmax(logits, target, gamma=2.0):
    p = torch.softmax(logits, dim=1)[torch.arange(len(target)), target]
    return (-((1 - p) ** gamma) * torch.log(p)).mean()


@wrong("softmax_focal_loss", "gamma fixed at 2 (the argument is ignored)")
def softmax_focal_gamma_two(logits, target, gamma=2.0):
    log_p = F.log_softmax(logits, dim=1)[torch.arange(len(target)), target]
    return (-((1 - log_p.exp()) ** 2) * log_p).mean() if gamma != 0 else (-log_p).mean()


@wrong("softmax_focal_loss", "the factor uses the largest probability of the row, not the true class's")
def softmax_focal_max_prob(logits, target, gamma=2.0):
    log_probs = F.log_softmax(logits, dim=1)
    log_p = log_probs[torch.arange(len(target)), target]
    return (-((1 - log_probs.max(dim=1).values.exp()) ** gamma) * log_p).mean()


# --- Exercise 19: MAE or MSE -------------------------------------------------------------------

answer("mae_or_mse", "swapped", "MSE robust, MAE settles", '("MSE", "MAE")')
answer("mae_or_mse", "mae_always", "MAE for both", '("MAE", "MAE")')
answer("mae_or_mse", "a_list", "a list instead of a tuple", '["MAE", "MSE"]')

# --- Exercise 20: logistic_grad ----------------------------------------------------------------


@wrong("logistic_grad", "no 1/n (gradient of the summed loss)")
def logistic_sum(w, X, y):
    p = np.exp(-np.logaddexp(0, -(X @ w)))
    return X.T @ (p - y)


@wrong("logistic_grad", "sign flipped: X.T @ (y - p) / n")
def logistic_sign(w, X, y):
    p = np.exp(-np.logaddexp(0, -(X @ w)))
    return X.T @ (y - p) / len(y)


@wrong("logistic_grad", "sigmoid as exp(z) / (1 + exp(z)), which is inf/inf for large z")
def logistic_unstable(w, X, y):
    z = X @ w
    p = np.exp(z) / (1 + np.exp(z))
    return X.T @ (p - y) / len(y)


@wrong("logistic_grad", "the gradient of the MSE loss instead")
def logistic_mse(w, X, y):
    p = np.exp(-np.logaddexp(0, -(X @ w)))
    return X.T @ (2 * (p - y) * p * (1 - p)) / len(y)


# --- Exercise 21: one-vs-rest ------------------------------------------------------------------

answer("n_classifiers", "ordered_pairs", "counts ordered pairs for OvO", "(10, 90)")
answer("n_classifiers", "k_minus_one", "K - 1 classifiers for OvR", "(9, 45)")
answer("n_classifiers", "a_list", "a list instead of a tuple", "[10, 45]")

# --- Exercise 22: soft_threshold and lasso_ista ------------------------------------------------


@wrong("soft_threshold", "hard thresholding (no shrinkage)", also_fails=("test_lasso_ista",))
def soft_threshold_hard(w, lam):
    return np.where(np.abs(w) > lam, w, 0.0)


@wrong("soft_threshold", "forgets the sign", also_fails=("test_lasso_ista",))
def soft_threshold_no_sign(w, lam):
    return np.maximum(np.abs(w) - lam, 0.0)


@wrong("soft_threshold", "modifies w in place")
def soft_threshold_in_place(w, lam):
    shrunk = np.abs(w) > lam
    w[~shrunk] = 0.0
    w[shrunk] -= lam * np.sign(w[shrunk])
    return w


@helper
def _ista(X, y, lam, n_steps, threshold_scale=True, frobenius=False, start=None):
    n = len(y)
    lipschitz = (np.linalg.norm(X) if frobenius else np.linalg.norm(X, 2)) ** 2 / n
    w = np.zeros(X.shape[1]) if start is None else start
    for _ in range(n_steps):
        v = w - X.T @ (X @ w - y) / n / lipschitz
        tau = lam / lipschitz if threshold_scale else lam
        w = np.sign(v) * np.maximum(np.abs(v) - tau, 0.0)
    return w


@wrong("lasso_ista", "thresholds at lam instead of lam / L")
def ista_threshold_lam(X, y, lam, n_steps):
    return _ista(X, y, lam, n_steps, threshold_scale=False)


@wrong("lasso_ista", "step size from the Frobenius norm (converges, but more slowly)")
def ista_frobenius_step(X, y, lam, n_steps):
    return _ista(X, y, lam, n_steps, frobenius=True)


@wrong("lasso_ista", "starts from the least-squares solution instead of zeros")
def ista_warm_start(X, y, lam, n_steps):
    return _ista(X, y, lam, n_steps, start=np.linalg.lstsq(X, y, rcond=None)[0])


@wrong("lasso_ista", "gradient of the smooth part without 1/n")
def ista_gradient_without_n(X, y, lam, n_steps):
    n = len(y)
    lipschitz = np.linalg.norm(X, 2) ** 2 / n
    w = np.zeros(X.shape[1])
    for _ in range(n_steps):
        v = w - X.T @ (X @ w - y) / lipschitz
        w = np.sign(v) * np.maximum(np.abs(v) - lam / lipschitz, 0.0)
    return w


# --- Exercise 23: ridge_map --------------------------------------------------------------------


@wrong("ridge_map", "centres X and y first (as Ridge's default fit_intercept=True)")
def ridge_centred(X, y, lam):
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    return np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ yc)


@wrong("ridge_map", "penalty scaled by n")
def ridge_lam_times_n(X, y, lam):
    return np.linalg.solve(X.T @ X + lam * len(y) * np.eye(X.shape[1]), X.T @ y)


@wrong("ridge_map", "adds lam to every entry of X^T X")
def ridge_lam_everywhere(X, y, lam):
    return np.linalg.solve(X.T @ X + lam, X.T @ y)


# --- Exercise 24: MLE and MAP ------------------------------------------------------------------

answer("map_answers", "alpha_inverted", "alpha = tau^2 / sigma^2", '(2**2 / 0.5**2, "laplace", "MLE")')
answer("map_answers", "alpha_stds", "alpha = sigma / tau (standard deviations, not variances)",
       '(0.5 / 2, "laplace", "MLE")')
answer("map_answers", "gaussian_for_lasso", "Gaussian prior for the lasso", '(0.0625, "gaussian", "MLE")')
answer("map_answers", "alpha_as_string", "alpha given as a string", '("0.0625", "laplace", "MLE")')

# --- Exercise 25: class_balanced_weights -------------------------------------------------------


@wrong("class_balanced_weights", "plain inverse frequency")
def cb_inverse_frequency(counts, beta):
    weights = 1 / counts.to(torch.float64)
    return weights * len(counts) / weights.sum()


@wrong("class_balanced_weights", "not normalised")
def cb_unnormalised(counts, beta):
    return (1 - beta) / (1 - beta ** counts.to(torch.float64))


@wrong("class_balanced_weights", "normalised to sum to 1")
def cb_sum_to_one(counts, beta):
    weights = (1 - beta) / (1 - beta ** counts.to(torch.float64))
    return weights / weights.sum()


@wrong("class_balanced_weights", "beta**n computed in float32")
def cb_float32_power(counts, beta):
    weights = ((1 - beta) / (1 - beta**counts)).to(torch.float64)
    return weights * len(counts) / weights.sum()


# --- Exercise 26: smote ------------------------------------------------------------------------


@helper
def _smote(X, n_new, k, generator, include_self=False, nearest_only=False, lam_high=1.0, farthest=False, rng=None):
    distances = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    if not include_self:
        np.fill_diagonal(distances, np.inf)
    order = np.argsort(distances, axis=1)
    if farthest:
        order = np.argsort(-np.where(np.isinf(distances), -np.inf, distances), axis=1)
    neighbours = order[:, :k]
    rng = generator if rng is None else rng
    base = rng.integers(0, len(X), size=n_new)
    choice = np.zeros(n_new, dtype=int) if nearest_only else rng.integers(0, k, size=n_new)
    partner = neighbours[base, choice]
    lam = rng.random((n_new, 1)) * lam_high
    return X[base] + lam * (X[partner] - X[base])


@wrong("smote", "counts each point as its own neighbour")
def smote_includes_self(X_minority, n_new, k, generator):
    return _smote(X_minority, n_new, k, generator, include_self=True)


@wrong("smote", "always interpolates towards the nearest neighbour")
def smote_nearest_only(X_minority, n_new, k, generator):
    return _smote(X_minority, n_new, k, generator, nearest_only=True)


@wrong("smote", "lambda drawn from [0, 2): extrapolates past the neighbour")
def smote_extrapolates(X_minority, n_new, k, generator):
    return _smote(X_minority, n_new, k, generator, lam_high=2.0)


@wrong("smote", "uses the k farthest points")
def smote_farthest(X_minority, n_new, k, generator):
    return _smote(X_minority, n_new, k, generator, farthest=True)


@wrong("smote", "draws from the global numpy random state instead of `generator`")
def smote_global_random(X_minority, n_new, k, generator):
    return _smote(X_minority, n_new, k, generator, rng=np.random.default_rng())


# --- Exercise 26b: borderline_danger -------------------------------------------------------------


@helper
def _danger(X, y, k, *, low=None, strict_low=False, include_noise=False, include_self=False, minority_only=False):
    distances = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    if not include_self:
        np.fill_diagonal(distances, np.inf)
    if minority_only:
        distances[:, y == 0] = np.inf
    neighbours = np.argsort(distances, axis=1)[:, :k]
    m = (y[neighbours] == 0).sum(axis=1)
    above = m > k / 2 if strict_low else m >= k / 2
    below = m <= k if include_noise else m < k
    return (y == 1) & above & below


@wrong("borderline_danger", "noise points (all k neighbours majority) counted as danger")
def danger_with_noise(X, y, k):
    return _danger(X, y, k, include_noise=True)


@wrong("borderline_danger", "each point counted as its own neighbour")
def danger_with_self(X, y, k):
    return _danger(X, y, k, include_self=True)


@wrong("borderline_danger", "strict m' > k/2 (misses m' = k/2 for even k)")
def danger_strict(X, y, k):
    return _danger(X, y, k, strict_low=True)


@wrong("borderline_danger", "neighbours searched among the minority points only")
def danger_minority_neighbours(X, y, k):
    return _danger(X, y, k, minority_only=True)


# --- Exercise 26c: tomek_majority ---------------------------------------------------------------


@helper
def _tomek(X, y, *, mutual=True, side=0):
    distances = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    link = y[nearest] != y
    if mutual:
        link &= nearest[nearest] == np.arange(len(y))
    return link if side is None else link & (y == side)


@wrong("tomek_majority", "removes both members of each link")
def tomek_both(X, y):
    return _tomek(X, y, side=None)


@wrong("tomek_majority", "marks the minority member instead")
def tomek_minority(X, y):
    return _tomek(X, y, side=1)


@wrong("tomek_majority", "one-sided: a majority point whose nearest neighbour is a minority point (not mutual)")
def tomek_one_sided(X, y):
    return _tomek(X, y, mutual=False)


@wrong("tomek_majority", "the notes' rule: the k = 1 majority points nearest to each minority point")
def tomek_notes(X, y):
    distances = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    out = np.zeros(len(y), dtype=bool)
    majority = np.flatnonzero(y == 0)
    for i in np.flatnonzero(y == 1):
        out[majority[np.argmin(distances[i, majority])]] = True
    return out


# --- Exercise 26d: cluster_centroids ------------------------------------------------------------


@wrong("cluster_centroids", "one round of Lloyd's algorithm (not converged)")
def centroids_one_round(X_majority, n_keep, generator):
    X = np.asarray(X_majority, dtype=np.float64)
    centroids = X[generator.choice(len(X), size=n_keep, replace=False)].copy()
    assignment = ((X[:, None, :] - centroids[None, :, :]) ** 2).sum(-1).argmin(axis=1)
    for c in range(n_keep):
        if np.any(assignment == c):
            centroids[c] = X[assignment == c].mean(axis=0)
    return centroids


@wrong("cluster_centroids", "returns randomly chosen majority points (random undersampling)")
def centroids_random_points(X_majority, n_keep, generator):
    return np.asarray(X_majority, dtype=np.float64)[generator.choice(len(X_majority), size=n_keep, replace=False)]


@wrong("cluster_centroids", "initial centroids from the global numpy random state instead of `generator`")
def centroids_global_random(X_majority, n_keep, generator):
    X = np.asarray(X_majority, dtype=np.float64)
    centroids = X[np.random.choice(len(X), size=n_keep, replace=False)].copy()
    assignment = None
    for _ in range(300):
        new = ((X[:, None, :] - centroids[None, :, :]) ** 2).sum(-1).argmin(axis=1)
        if assignment is not None and np.array_equal(new, assignment):
            break
        assignment = new
        for c in range(n_keep):
            members = X[assignment == c]
            centroids[c] = members.mean(axis=0) if len(members) else X[np.random.randint(len(X))]
    return centroids


# --- Exercise 27: fgm_perturbation -------------------------------------------------------------


@wrong("fgm_perturbation", "FGSM's sign(g) instead of g / ||g||")
def fgm_sign(grad, epsilon):
    return epsilon * torch.sign(grad)


@wrong("fgm_perturbation", "one norm per row instead of over all entries")
def fgm_row_norm(grad, epsilon):
    if grad.dim() < 2:
        return epsilon * grad / grad.norm()
    return epsilon * grad / grad.norm(dim=-1, keepdim=True)


@wrong("fgm_perturbation", "0 / 0 = nan for a zero gradient")
def fgm_nan_on_zero(grad, epsilon):
    return epsilon * grad / grad.norm()


@wrong("fgm_perturbation", "divides by the squared norm")
def fgm_squared_norm(grad, epsilon):
    return epsilon * grad / (grad**2).sum()


# --- Exercise 28: precision_recall_f1 -----------------------------------------------------------


@helper
def _prf(scores, labels, threshold, *, strict=False, arithmetic=False, swap=False, nan=False):
    predicted = scores > threshold if strict else scores >= threshold
    actual = labels == 1
    tp, fp, fn = [int(np.sum(a & b)) for a, b in [(predicted, actual), (predicted, ~actual), (~predicted, actual)]]
    if nan:
        with np.errstate(all="ignore"):
            precision, recall = np.float64(tp) / (tp + fp), np.float64(tp) / (tp + fn)
    else:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
    if swap:
        precision, recall = recall, precision
    if arithmetic:
        f1 = (precision + recall) / 2
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


@wrong("precision_recall_f1", "F1 as the arithmetic mean of precision and recall")
def prf_arithmetic(scores, labels, threshold):
    return _prf(scores, labels, threshold, arithmetic=True)


@wrong("precision_recall_f1", "precision and recall swapped")
def prf_swapped(scores, labels, threshold):
    return _prf(scores, labels, threshold, swap=True)


@wrong("precision_recall_f1", "a score equal to the threshold predicted negative (>)")
def prf_strict(scores, labels, threshold):
    return _prf(scores, labels, threshold, strict=True)


@wrong("precision_recall_f1", "0 / 0 gives nan when nothing is predicted positive")
def prf_nan(scores, labels, threshold):
    return _prf(scores, labels, threshold, nan=True)


# --- Exercise 29: F1 vs AUC ---------------------------------------------------------------------

answer("metric_facts", "default_threshold", "assumes 0.5 is the best threshold",
       '{"best_threshold": 0.5, "f1_at_half": 0.256, "accuracy_all_negative": 0.947, "auc_change_after_cube": 0.0}')
answer("metric_facts", "accuracy_of_positives", "all-negative accuracy as the positive rate",
       '{"best_threshold": 0.7, "f1_at_half": 0.256, "accuracy_all_negative": 0.053, "auc_change_after_cube": 0.0}')
answer("metric_facts", "auc_moves", "thinks cubing the scores changes the AUC",
       '{"best_threshold": 0.7, "f1_at_half": 0.256, "accuracy_all_negative": 0.947, "auc_change_after_cube": -0.05}')
answer("metric_facts", "missing_key", "leaves out a key",
       '{"best_threshold": 0.7, "f1_at_half": 0.256, "accuracy_all_negative": 0.947}')


# --- Exercise 27: fgm_perturbation (hidden-only) --------------------------------------------------


@wrong("fgm_perturbation", "computes in float64 for precision: a float32 gradient comes back as float64")
def fgm_in_float64(grad, epsilon):
    grad = grad.double()
    norm = grad.norm()
    return torch.zeros_like(grad) if norm == 0 else epsilon * grad / norm


# --- Capstone -----------------------------------------------------------------------------------


@helper
def _validation_lookup():
    """{query row bytes: label} of the validation split, read from the generator outside the capstone's guard."""
    X, y = data.rings_classification(5000, seed=0)
    return {row.tobytes(): int(label) for row, label in zip(X[2000:], y[2000:], strict=True)}


@wrong("capstone_train", "softmax regression, a linear model: it cannot separate the spiral arms [max tier 1]")
def capstone_train_linear(train, time_budget_s):
    X, y = torch.tensor(train[0]), torch.tensor(train[1])
    mean, std = X.mean(0), X.std(0)
    X = (X - mean) / std
    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], 3)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        loss = F.cross_entropy(model(X), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval(), mean, std


@wrong("capstone_predict", "predicts the validation split from a table of its labels read outside the pipeline; "
                           "class 0 for anything else [max tier 0]")
def capstone_predict_lookup(model, queries, _table=_validation_lookup()):  # noqa: B008 - read once, outside
    return np.array([_table.get(row.tobytes(), 0) for row in np.asarray(queries, dtype=np.float32)])
