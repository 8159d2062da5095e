"""scaled_dot_product_attention and MultiheadAttention: float64 NumPy references on every kernel implementation,
PyTorch parity (outputs, attention weights, gradients of inputs and parameters), gradchecks, dropout and
bad-input errors."""
from __future__ import annotations

import numpy as np
import pytest

import pyneural as pn
from pyneural.ops.attention import attention

F = pn.nn.functional
TOL = {np.float32: 2e-5, np.float64: 1e-12}


# ------------------------------------------------------------------------------------------ references

def sdpa_reference(q, k, v, g, keep=None, add=None, scale=None):
    """Forward and (gq, gk, gv) in float64; ``keep`` a bool mask (True = attend), ``add`` a float mask.
    Rows with nothing to attend to give zeros, as PyTorch."""
    q, k, v, g = (a.astype(np.float64) for a in (q, k, v, g))
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if add is not None:
        s = s + add
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    m = s.max(-1, keepdims=True)
    dead = np.isneginf(m)
    e = np.exp(s - np.where(dead, 0, m))
    p = np.where(dead, 0, e / np.where(dead, 1, e.sum(-1, keepdims=True)))
    out = p @ v
    gv = np.swapaxes(p, -1, -2) @ g
    gp = g @ np.swapaxes(v, -1, -2)
    gs = p * (gp - (gp * p).sum(-1, keepdims=True))
    gq = gs @ k * scale
    gk = np.swapaxes(gs, -1, -2) @ q * scale
    return out, gq, gk, gv


def sum_to(g, shape):
    """Sum a broadcast gradient back to ``shape``."""
    while g.ndim > len(shape):
        g = g.sum(0)
    return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1), keepdims=True)


def leaves(rng, dtype, *shapes):
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return arrays, [pn.tensor(a, requires_grad=True) for a in arrays]


def assert_close(got, want, dtype, scale=1.0):
    tol = TOL[dtype] * scale
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ------------------------------------------------------------------------------- sdpa against NumPy

SDPA_CASES = [  # q, k, v shapes (odd sizes, broadcast batch dims, no batch dims)
    ((2, 3, 5, 7), (2, 3, 9, 7), (2, 3, 9, 3)),
    ((3, 1, 7), (3, 13, 7), (3, 13, 5)),
    ((5, 6), (11, 6), (11, 4)),
    ((2, 1, 4, 5), (1, 3, 6, 5), (2, 3, 6, 5)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", SDPA_CASES)
@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal"])
def test_sdpa_matches_reference(kernel_impl, rng, dtype, shapes, mask):
    (q, k, v), (tq, tk, tv) = leaves(rng, dtype, *shapes)
    L, S = q.shape[-2], k.shape[-2]
    keep = add = None
    kwargs = {}
    if mask == "bool":
        keep = rng.random((L, S)) > 0.4
        keep[0] = False  # one fully masked row
        kwargs["attn_mask"] = keep
    elif mask == "float":
        add = rng.standard_normal((L, S)).astype(dtype)
        kwargs["attn_mask"] = add
    elif mask == "causal":
        keep = np.tril(np.ones((L, S), bool))
        kwargs["is_causal"] = True
    out = F.scaled_dot_product_attention(tq, tk, tv, **kwargs)
    g = rng.standard_normal(out.shape).astype(dtype)
    ref, gq, gk, gv = sdpa_reference(q, k, v, g, keep, add)
    assert out.shape == ref.shape and out.dtype == dtype
    assert_close(out.numpy(), ref, dtype, scale=5)
    out.backward(g)
    assert_close(tq.grad.numpy(), sum_to(gq, q.shape), dtype, scale=20)
    assert_close(tk.grad.numpy(), sum_to(gk, k.shape), dtype, scale=20)
    assert_close(tv.grad.numpy(), sum_to(gv, v.shape), dtype, scale=20)


def test_sdpa_custom_scale_and_float_mask_gradient(kernel_impl, rng):
    (q, k, v, m), (tq, tk, tv, tm) = leaves(rng, np.float64, (2, 5, 3), (2, 7, 3), (2, 7, 4), (5, 7))
    out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, scale=0.37)
    g = rng.standard_normal(out.shape)
    ref, gq, gk, gv = sdpa_reference(q, k, v, g, add=m, scale=0.37)
    assert_close(out.numpy(), ref, np.float64)
    out.backward(g)
    assert_close(tq.grad.numpy(), gq, np.float64)
    assert_close(tv.grad.numpy(), gv, np.float64)
    # the float mask is added to the scores: its gradient is dS summed over the batch
    gp = g @ np.swapaxes(v, -1, -2)
    s = q @ np.swapaxes(k, -1, -2) * 0.37 + m
    pr = np.exp(s - s.max(-1, keepdims=True))
    pr /= pr.sum(-1, keepdims=True)
    assert_close(tm.grad.numpy(), (pr * (gp - (gp * pr).sum(-1, keepdims=True))).sum(0), np.float64)


# -------------------------------------------------------------------------------- sdpa against PyTorch

def _torch_leaves(torch, arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("case", ["plain", "bool", "float", "causal", "scale", "broadcast", "dead_rows"])
def test_sdpa_matches_torch(backend, rng, case):
    torch = pytest.importorskip("torch")
    shapes = [(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6)]
    if case == "broadcast":
        shapes = [(2, 3, 5, 8), (1, 3, 7, 8), (2, 1, 7, 6)]
    (q, k, v), (tq, tk, tv) = leaves(rng, np.float64, *shapes)
    kwargs = {}
    if case == "bool":
        kwargs["attn_mask"] = rng.random((2, 1, 5, 7)) > 0.3
    elif case == "dead_rows":
        mask = rng.random((5, 7)) > 0.3
        mask[1] = mask[4] = False
        kwargs["attn_mask"] = mask
    elif case == "float":
        kwargs["attn_mask"] = rng.standard_normal((3, 5, 7))
    elif case == "causal":
        kwargs["is_causal"] = True
    elif case == "scale":
        kwargs["scale"] = 0.21
    torch_kwargs = {key: torch.tensor(val) if isinstance(val, np.ndarray) else val for key, val in kwargs.items()}
    xq, xk, xv = _torch_leaves(torch, (q, k, v))
    want = torch.nn.functional.scaled_dot_product_attention(xq, xk, xv, **torch_kwargs)
    out = F.scaled_dot_product_attention(tq, tk, tv, **kwargs)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(want.shape)
    want.backward(torch.tensor(g))
    out.backward(g)
    for ours, theirs in ((tq, xq), (tk, xk), (tv, xv)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-11, atol=1e-12)
    if case == "dead_rows":  # PyTorch gives zeros (not NaN) for a query that may attend to nothing
        assert np.all(out.numpy()[..., [1, 4], :] == 0) and np.all(tq.grad.numpy()[..., [1, 4], :] == 0)


def test_sdpa_float32_matches_torch(threads, rng):
    torch = pytest.importorskip("torch")
    (q, k, v), (tq, tk, tv) = leaves(rng, np.float32, (4, 2, 33, 16), (4, 2, 17, 16), (4, 2, 17, 16))
    xq, xk, xv = _torch_leaves(torch, (q, k, v))
    want = torch.nn.functional.scaled_dot_product_attention(xq, xk, xv, is_causal=True)
    out = F.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(want.shape).astype(np.float32)
    want.backward(torch.tensor(g))
    out.backward(g)
    for ours, theirs in ((tq, xq), (tk, xk), (tv, xv)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------ gradchecks

def test_sdpa_gradcheck_with_mask(rng):
    (_, _, _, _), (tq, tk, tv, tm) = leaves(rng, np.float64, (2, 3, 4), (2, 5, 4), (2, 5, 3), (3, 5))
    keep = rng.random((2, 3, 5)) > 0.3
    keep[:, :, 0] = True
    assert pn.autograd.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
                                 (tq, tk, tv))
    assert pn.autograd.gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                                 (tq, tk, tv, tm))


def test_sdpa_gradcheck_with_dropout(rng):
    """Reseeding inside fn fixes the dropout mask, so finite differences see the same function."""
    (_, _, _), (tq, tk, tv) = leaves(rng, np.float64, (2, 3, 4), (2, 5, 4), (2, 5, 3))

    def fn(q, k, v):
        pn.manual_seed(7)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)

    assert pn.autograd.gradcheck(fn, (tq, tk, tv))


def test_attention_weights_gradcheck(rng):
    (_, _, _), (tq, tk, tv) = leaves(rng, np.float64, (3, 4), (5, 4), (5, 2))
    assert pn.autograd.gradcheck(lambda q, k, v: attention(q, k, v, need_weights=True), (tq, tk, tv))


def test_multihead_attention_gradcheck(rng):
    pn.manual_seed(3)
    mha = pn.nn.MultiheadAttention(4, 2).double()
    mha.in_proj_bias.data[...] = rng.standard_normal(12)
    (_, _), (x, y) = leaves(rng, np.float64, (3, 2, 4), (5, 2, 4))
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    assert pn.autograd.gradcheck(lambda x, y: mha(x, y, y, key_padding_mask=kpm), (x, y))
    weights = [pn.tensor(p.data, requires_grad=True)
               for p in (mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias)]
    assert pn.autograd.gradcheck(lambda *ws: _with_params(mha, ws, x, y, kpm), weights)


def _with_params(mha, ws, x, y, kpm):
    """MHA output with its parameters replaced by the tensors ``ws`` under test (gradcheck perturbs its own
    copies, so the module must read those)."""
    slots = ((mha, "in_proj_weight"), (mha, "in_proj_bias"), (mha.out_proj, "weight"), (mha.out_proj, "bias"))
    saved = [owner.__dict__[name] for owner, name in slots]
    try:
        for (owner, name), t in zip(slots, ws):
            owner.__dict__[name] = t  # forward reads attributes from the instance dict
        return mha(x, y, y, key_padding_mask=kpm)[0]
    finally:
        for (owner, name), p in zip(slots, saved):
            owner.__dict__[name] = p


# ------------------------------------------------------------------------------------------------ dropout

def test_sdpa_dropout_reproducible_and_scaled(rng):
    (q, k, v), (tq, tk, tv) = leaves(rng, np.float64, (2, 6, 4), (2, 9, 4), (2, 9, 5))
    pn.manual_seed(11)
    a = F.scaled_dot_product_attention(tq, tk, tv, dropout_p=0.5).numpy()
    pn.manual_seed(11)
    b = F.scaled_dot_product_attention(tq, tk, tv, dropout_p=0.5).numpy()
    c = F.scaled_dot_product_attention(tq, tk, tv, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # the dropped weights: each is 0 or the undropped weight / (1 - p), and some of each kind
    _, p_full = attention(tq, tk, tv, need_weights=True)
    pn.manual_seed(11)
    out, p_drop = attention(tq, tk, tv, dropout_p=0.5, need_weights=True)
    np.testing.assert_array_equal(out.numpy(), a)
    pd, pf = p_drop.numpy(), p_full.numpy()
    dropped = pd == 0
    assert 0.3 < dropped.mean() < 0.7
    np.testing.assert_allclose(pd[~dropped], pf[~dropped] * 2, rtol=1e-14)
    np.testing.assert_allclose(out.numpy(), pd @ v, rtol=1e-12, atol=1e-12)
    assert np.all(F.scaled_dot_product_attention(tq, tk, tv, dropout_p=1.0).numpy() == 0)


def test_multihead_attention_dropout_only_in_training(rng):
    pn.manual_seed(0)
    mha = pn.nn.MultiheadAttention(8, 2, dropout=0.5)
    x = rng.standard_normal((5, 3, 8)).astype(np.float32)
    pn.manual_seed(1)
    train_a = mha(x, x, x)[0].numpy()
    pn.manual_seed(1)
    train_b = mha(x, x, x)[0].numpy()
    np.testing.assert_array_equal(train_a, train_b)
    mha.eval()
    eval_a, w_a = mha(x, x, x)
    eval_b, w_b = mha(x, x, x)
    np.testing.assert_array_equal(eval_a.numpy(), eval_b.numpy())
    assert not np.allclose(train_a, eval_a.numpy())
    np.testing.assert_allclose(w_a.numpy().sum(-1), 1, rtol=1e-6)  # no weight dropped in eval


# ------------------------------------------------------------------------------- MultiheadAttention parity

def _copy_from_torch(torch_module, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()}, strict=True)


def _mha_pair(torch, seed, embed_dim=8, num_heads=2, **kwargs):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, **kwargs).double()
    with torch.no_grad():  # non-zero biases so their gradients mean something
        for name, p in theirs.named_parameters():
            if "bias" in name:
                p.normal_()
    ours = pn.nn.MultiheadAttention(embed_dim, num_heads, **kwargs).double()
    _copy_from_torch(theirs, ours)
    return theirs, ours


MHA_CASES = {
    "self": dict(),
    "batch_first": dict(batch_first=True),
    "kdim_vdim": dict(kdim=5, vdim=3),
    "kpm_bool": dict(kpm="bool"),
    "kpm_float": dict(kpm="float"),
    "mask2d_bool": dict(mask="bool2"),
    "mask3d_float": dict(mask="float3"),
    "both_bool": dict(kpm="bool", mask="bool3", batch_first=True),
    "mixed": dict(kpm="bool", mask="float2"),
    "unbatched": dict(unbatched=True, mask="bool3", kpm="bool"),
    "unbatched_float": dict(unbatched=True, mask="float2", kpm="float", batch_first=True),
    "no_bias": dict(bias=False),
    "bias_kv": dict(add_bias_kv=True, kpm="bool", mask="float2"),
    "zero_attn": dict(add_zero_attn=True, kpm="float", mask="bool3", batch_first=True),
    "bias_kv_zero_attn": dict(add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=3, mask="bool2"),
    "bias_kv_unbatched": dict(add_bias_kv=True, add_zero_attn=True, unbatched=True, kpm="bool", mask="bool3"),
}


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")  # PyTorch, on the "mixed" case
@pytest.mark.parametrize("case", list(MHA_CASES))
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_matches_torch(backend, rng, case, average):
    torch = pytest.importorskip("torch")
    spec = dict(MHA_CASES[case])
    kpm_kind, mask_kind, unbatched = spec.pop("kpm", None), spec.pop("mask", None), spec.pop("unbatched", False)
    theirs, ours = _mha_pair(torch, 0, **spec)
    E, H, N, L, S = 8, 2, 3, 5, 7
    kdim, vdim = spec.get("kdim", E), spec.get("vdim", E)
    same = kdim == E and vdim == E and case in ("self", "batch_first", "no_bias")
    if unbatched:
        shapes = [(L, E), (S, kdim), (S, vdim)]
    elif spec.get("batch_first"):
        shapes = [(N, L, E), (N, S, kdim), (N, S, vdim)]
    else:
        shapes = [(L, N, E), (S, N, kdim), (S, N, vdim)]
    if same:
        shapes[1] = shapes[2] = shapes[0]
    arrays = [rng.standard_normal(s) for s in shapes]
    if same:  # self-attention: one tensor for query, key and value
        arrays = arrays[:1] * 3
    kw = {}
    if kpm_kind:
        kpm = rng.random((S,) if unbatched else (N, S)) < 0.3
        kpm[..., 0] = False
        kw["key_padding_mask"] = kpm if kpm_kind == "bool" else np.where(kpm, -2.5, 0.0)
    if mask_kind:
        shape = (L, S) if mask_kind.endswith("2") else ((H,) if unbatched else (N * H,)) + (L, S)
        if mask_kind.startswith("bool"):
            m = rng.random(shape) < 0.3
            m[..., 0] = False
        else:
            m = rng.standard_normal(shape)
        kw["attn_mask"] = m
    uniq = _unique(arrays)
    xs = [torch.tensor(a, requires_grad=True) for a in uniq]
    ts = [pn.tensor(a, requires_grad=True) for a in uniq]
    pick = (lambda seq: [seq[0]] * 3) if same else (lambda seq: seq)
    want, want_w = theirs(*pick(xs), average_attn_weights=average,
                          **{key: torch.tensor(val) for key, val in kw.items()})
    out, w = ours(*pick(ts), average_attn_weights=average, **kw)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-11, atol=1e-12)
    assert w.shape == tuple(want_w.shape)
    np.testing.assert_allclose(w.numpy(), want_w.detach().numpy(), rtol=1e-11, atol=1e-12)
    g, gw = rng.standard_normal(want.shape), rng.standard_normal(want_w.shape)
    torch.autograd.backward([want, want_w], [torch.tensor(g), torch.tensor(gw)])
    pn.autograd.backward([out, w], [g, gw])
    for ours_x, their_x in zip(ts, xs):
        np.testing.assert_allclose(ours_x.grad.numpy(), their_x.grad.numpy(), rtol=1e-10, atol=1e-11)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), rtol=1e-10, atol=1e-11,
                                   err_msg=name)
    assert sorted(n for n, _ in ours.named_parameters()) == sorted(theirs_params)


def _unique(arrays):
    out = []
    for a in arrays:
        if not any(a is b for b in out):
            out.append(a)
    return out


def test_multihead_attention_need_weights_false(rng):
    torch = pytest.importorskip("torch")
    theirs, ours = _mha_pair(torch, 1)
    x = rng.standard_normal((4, 2, 8))
    want, _ = theirs(*[torch.tensor(x)] * 3, need_weights=False)
    out, w = ours(x, x, x, need_weights=False)
    assert w is None
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-11, atol=1e-12)


def test_multihead_attention_causal_hint(rng):
    torch = pytest.importorskip("torch")
    theirs, ours = _mha_pair(torch, 2, batch_first=True)
    x = rng.standard_normal((2, 6, 8))
    causal = np.triu(np.ones((6, 6), bool), 1)
    want, _ = theirs(*[torch.tensor(x)] * 3, attn_mask=torch.tensor(causal), is_causal=True, need_weights=False)
    out, _ = ours(x, x, x, attn_mask=causal, is_causal=True, need_weights=False)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-11, atol=1e-12)
    with pytest.raises(ValueError, match="is_causal"):
        ours(x, x, x, is_causal=True)


def test_multihead_attention_float32_and_init():
    pn.manual_seed(0)
    mha = pn.nn.MultiheadAttention(12, 3)
    assert mha.in_proj_weight.shape == (36, 12) and mha.in_proj_weight.dtype == np.float32
    bound = np.sqrt(6 / (12 + 36))  # xavier_uniform_ on the (3E, E) matrix
    assert np.abs(mha.in_proj_weight.numpy()).max() <= bound and np.abs(mha.in_proj_weight.numpy()).max() > 0.8 * bound
    assert np.all(mha.in_proj_bias.numpy() == 0) and np.all(mha.out_proj.bias.numpy() == 0)
    assert mha.q_proj_weight is None and mha.head_dim == 4
    separate = pn.nn.MultiheadAttention(12, 3, kdim=5, vdim=7, bias=False)
    assert separate.in_proj_weight is None and separate.k_proj_weight.shape == (12, 5)
    assert separate.v_proj_weight.shape == (12, 7) and separate.in_proj_bias is None
    assert mha.bias_k is None and "bias_k" not in mha.state_dict()
    extra = pn.nn.MultiheadAttention(12, 3, add_bias_kv=True, add_zero_attn=True)
    assert extra.bias_k.shape == (1, 1, 12) and np.abs(extra.bias_v.numpy()).max() > 0
    assert list(extra.state_dict())[:3] == ["in_proj_weight", "in_proj_bias", "bias_k"]
    x = np.ones((2, 3, 12), np.float32)
    out, w = mha(x, x, x)
    assert out.dtype == np.float32 and out.shape == (2, 3, 12) and w.shape == (3, 2, 2)


# ------------------------------------------------------------------------------------------- bad input

def test_sdpa_bad_input():
    q, k, v = np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 5, 6))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*embedding size.*\(2, 3, 4\)"):
        F.scaled_dot_product_attention(q, np.zeros((2, 5, 3)), v)
    with pytest.raises(ValueError, match=r"sequence length.*\(2, 6, 6\)"):
        F.scaled_dot_product_attention(q, k, np.zeros((2, 6, 6)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.scaled_dot_product_attention(np.zeros(4), k, v)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        F.scaled_dot_product_attention(np.zeros((3, 3, 4)), k, v)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 4\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 4), bool))
    with pytest.raises(TypeError, match="attn_mask must be bool or floating"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), np.int64))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), bool), is_causal=True)
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)
    with pytest.raises(TypeError, match="floating point"):
        F.scaled_dot_product_attention(q.astype(int), k.astype(int), v.astype(int))


def test_multihead_attention_bad_input():
    with pytest.raises(ValueError, match="divisible"):
        pn.nn.MultiheadAttention(10, 3)
    mha = pn.nn.MultiheadAttention(8, 2)
    x = np.zeros((5, 3, 8), np.float32)
    with pytest.raises(ValueError, match=r"MultiheadAttention.*embed_dim=8.*\(5, 3, 7\)"):
        mha(np.zeros((5, 3, 7), np.float32), x, x)
    with pytest.raises(ValueError, match="same batch size"):
        mha(x, np.zeros((5, 2, 8), np.float32), np.zeros((5, 2, 8), np.float32))
    with pytest.raises(ValueError, match="same sequence length"):
        mha(x, x, np.zeros((6, 3, 8), np.float32))
    with pytest.raises(ValueError, match="all be 3-D"):
        mha(x, x[0], x[0])
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(3, 5\)"):
        mha(x, x, x, key_padding_mask=np.zeros((5, 3), bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(5, 5\) or \(6, 5, 5\)"):
        mha(x, x, x, attn_mask=np.zeros((3, 5, 5), bool))
    with pytest.raises(TypeError, match="bool or floating"):
        mha(x, x, x, attn_mask=np.zeros((5, 5), np.int32))
