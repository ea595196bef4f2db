"""Wrong answers for 01_fundamentals (see tests/wrong_answers/__init__.py)."""

import torch
import torch.nn.functional as F

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
