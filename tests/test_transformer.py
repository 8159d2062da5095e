"""TransformerEncoderLayer, TransformerEncoder and PositionalEncoding: PyTorch parity (outputs and gradients of
inputs and every parameter, state dicts loaded strictly), deep copies, dropout, the positional table, bad input."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import pyneural as pn

D, HEADS, FF, L, N = 8, 2, 12, 5, 3


def _state(torch_module):
    return {k: v.detach().numpy() for k, v in torch_module.state_dict().items()}


def _randomise_torch(torch, module):
    """Non-trivial LayerNorm weights and biases, so their gradients and effect are tested."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name or "bias" in name:
                p.normal_()


def _compare(torch, theirs, ours, src, kwargs, rtol=1e-10):
    """Forward and backward of both models; outputs, input gradients and every parameter gradient agree."""
    x_t = torch.tensor(src, requires_grad=True)
    x_p = pn.tensor(src, requires_grad=True)
    want = theirs(x_t, **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    out = ours(x_p, **kwargs)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=rtol, atol=rtol)
    g = np.random.default_rng(5).standard_normal(want.shape)
    want.backward(torch.tensor(g))
    out.backward(g)
    np.testing.assert_allclose(x_p.grad.numpy(), x_t.grad.numpy(), rtol=rtol, atol=rtol)
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert sorted(ours_params) == sorted(theirs_params)
    for name, p in ours_params.items():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), rtol=rtol, atol=rtol,
                                   err_msg=name)


LAYER_CASES = {
    "post_relu": dict(),
    "pre_gelu": dict(norm_first=True, activation="gelu"),
    "post_gelu_batch_first": dict(activation="gelu", batch_first=True),
    "pre_relu_batch_first": dict(norm_first=True, batch_first=True),
    "no_bias": dict(bias=False),
}


@pytest.mark.parametrize("case", list(LAYER_CASES))
@pytest.mark.parametrize("masks", ["none", "masks"])
def test_encoder_layer_matches_torch(backend, rng, case, masks):
    torch = pytest.importorskip("torch")
    spec = LAYER_CASES[case]
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, **spec).double()
    _randomise_torch(torch, theirs)
    ours = pn.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, **spec).double()
    ours.load_state_dict(_state(theirs), strict=True)
    src = rng.standard_normal((N, L, D) if spec.get("batch_first") else (L, N, D))
    kwargs = {}
    if masks == "masks":
        kpm = np.zeros((N, L), bool)
        kpm[0, 3:] = True
        kwargs = dict(src_mask=np.triu(np.ones((L, L), bool), 1), src_key_padding_mask=kpm)
    _compare(torch, theirs, ours, src, kwargs)


@pytest.mark.filterwarnings("ignore:Support for mismatched src_key_padding_mask")  # PyTorch, on mixed masks
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_matches_torch(backend, rng, norm_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, norm_first=norm_first)
    theirs = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(D), enable_nested_tensor=False).double()
    _randomise_torch(torch, theirs)
    ours = pn.nn.TransformerEncoder(pn.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, norm_first=norm_first),
                                    2, norm=pn.nn.LayerNorm(D)).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(_state(theirs), strict=True)
    kpm = np.zeros((N, L), bool)
    kpm[1, 2:] = True
    causal = np.triu(np.full((L, L), -np.inf), 1)
    _compare(torch, theirs, ours, rng.standard_normal((L, N, D)), dict(mask=causal, src_key_padding_mask=kpm))


def test_encoder_float32_unbatched_and_eval(rng):
    """float32 model in eval mode (dropout off) on an unbatched input, against PyTorch's."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, HEADS, FF, batch_first=True), 2,
                                         enable_nested_tensor=False).eval()
    ours = pn.nn.TransformerEncoder(pn.nn.TransformerEncoderLayer(D, HEADS, FF, batch_first=True), 2).eval()
    ours.load_state_dict(_state(theirs), strict=True)
    src = rng.standard_normal((L, D)).astype(np.float32)
    with torch.no_grad():
        want = theirs(torch.tensor(src)).numpy()
    out = ours(src)
    assert out.dtype == np.float32 and out.shape == (L, D)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-5)


def test_encoder_layers_are_independent_copies():
    layer = pn.nn.TransformerEncoderLayer(D, HEADS, FF)
    enc = pn.nn.TransformerEncoder(layer, 3)
    names = [n for n, _ in enc.named_parameters()]
    assert names[0] == "layers.0.self_attn.in_proj_weight" and "layers.2.norm2.bias" in names
    ws = [enc.layers[i].linear1.weight for i in range(3)] + [layer.linear1.weight]
    assert len({id(w) for w in ws}) == 4 and len({id(w.data) for w in ws}) == 4
    np.testing.assert_array_equal(ws[0].numpy(), ws[3].numpy())  # copies start equal
    enc.layers[0].linear1.weight.data[...] = 0
    assert np.abs(ws[1].numpy()).sum() > 0 and np.abs(layer.linear1.weight.numpy()).sum() > 0
    assert enc.layers[1].activation is pn.nn.functional.relu  # the fused relu path survives the copy
    copied = copy.deepcopy(enc.layers[1])
    assert copied.self_attn.in_proj_weight is not enc.layers[1].self_attn.in_proj_weight


def test_encoder_layer_dropout_train_and_eval(rng):
    pn.manual_seed(0)
    layer = pn.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.3)
    x = rng.standard_normal((L, N, D)).astype(np.float32)
    pn.manual_seed(4)
    a = layer(x).numpy()
    pn.manual_seed(4)
    b = layer(x).numpy()
    np.testing.assert_array_equal(a, b)
    layer.eval()
    c, d = layer(x).numpy(), layer(x).numpy()
    np.testing.assert_array_equal(c, d)
    assert not np.allclose(a, c)
    layer_no_dropout = pn.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0)
    layer_no_dropout.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(layer_no_dropout(x).numpy(), c)


def test_encoder_layer_callable_activation(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    theirs = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation=torch.tanh).double()
    ours = pn.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation=pn.nn.Tanh()).double()
    ours.load_state_dict(_state(theirs), strict=True)
    _compare(torch, theirs, ours, rng.standard_normal((L, N, D)), {})


# ------------------------------------------------------------------------------------ positional encoding

@pytest.mark.parametrize("d_model", [6, 7])
def test_positional_encoding_table(d_model):
    pe = pn.nn.PositionalEncoding(d_model, max_len=50)
    t, i = np.arange(50)[:, None], np.arange(d_model)[None, :]
    angle = t / 10000 ** ((i - i % 2) / d_model)
    want = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    np.testing.assert_allclose(pe.pe.numpy(), want, rtol=1e-6, atol=1e-6)
    assert "pe" not in pe.state_dict()
    x = np.zeros((9, 2, d_model), np.float32)
    out = pe(pn.tensor(x, requires_grad=True))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(want[:9, None], (9, 2, d_model)), rtol=1e-6, atol=1e-6)
    first = pn.nn.PositionalEncoding(d_model, max_len=50, batch_first=True)
    np.testing.assert_allclose(first(np.zeros((2, 9, d_model))).numpy()[1], want[:9], rtol=1e-6, atol=1e-6)


def test_positional_encoding_gradient_and_dropout(rng):
    pe = pn.nn.PositionalEncoding(4, max_len=10)
    x = pn.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    pe(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 2, 4)))
    noisy = pn.nn.PositionalEncoding(4, max_len=10, dropout=0.5)
    assert np.any(noisy(np.ones((3, 2, 4))).numpy() == 0)
    noisy.eval()
    np.testing.assert_allclose(noisy(np.ones((3, 2, 4))).numpy(), pe(np.ones((3, 2, 4))).numpy())


# ------------------------------------------------------------------------------------------- bad input

def test_transformer_bad_input():
    with pytest.raises(ValueError, match="activation"):
        pn.nn.TransformerEncoderLayer(D, HEADS, activation="swish")
    with pytest.raises(ValueError, match="divisible"):
        pn.nn.TransformerEncoderLayer(9, 2)
    with pytest.raises(TypeError, match="encoder_layer"):
        pn.nn.TransformerEncoder("layer", 2)
    layer = pn.nn.TransformerEncoderLayer(D, HEADS, FF)
    x = np.zeros((L, N, D), np.float32)
    with pytest.raises(ValueError, match=r"MultiheadAttention.*\(5, 3, 7\)"):
        layer(np.zeros((L, N, 7), np.float32))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(5, 5\)"):
        layer(x, src_mask=np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(3, 5\)"):
        layer(x, src_key_padding_mask=np.zeros((L, N), bool))
    with pytest.raises(ValueError, match="is_causal"):
        pn.nn.TransformerEncoder(layer, 1)(x, is_causal=True)
    pe = pn.nn.PositionalEncoding(D, max_len=4)
    with pytest.raises(ValueError, match="exceeds max_len=4"):
        pe(x)
    with pytest.raises(ValueError, match=r"PositionalEncoding.*\(5, 3, 7\)"):
        pe(np.zeros((L, N, 7)))


# ------------------------------------------------------------------------------------------ end to end

def test_encoder_checkpoint_round_trip(tmp_path, rng):
    enc = pn.nn.TransformerEncoder(pn.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0), 2)
    path = tmp_path / "encoder.safetensors"
    pn.save(enc.state_dict(), path)
    fresh = pn.nn.TransformerEncoder(pn.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0), 2)
    fresh.load_state_dict(pn.load(path), strict=True)
    x = rng.standard_normal((L, N, D)).astype(np.float32)
    np.testing.assert_array_equal(fresh(x).numpy(), enc(x).numpy())


def test_encoder_learns_to_find_the_largest_token(rng):
    """A tiny encoder + PositionalEncoding learns to point at the position of the largest input value."""
    pn.manual_seed(0)
    T = 6
    embed, pos = pn.nn.Linear(1, 16), pn.nn.PositionalEncoding(16, max_len=T, batch_first=True)
    enc = pn.nn.TransformerEncoder(pn.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True), 1)
    head = pn.nn.Linear(16, 1)
    params = [p for m in (embed, enc, head) for p in m.parameters()]
    opt = pn.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(60):
        x = rng.standard_normal((32, T, 1)).astype(np.float32)
        target = x[..., 0].argmax(1)
        logits = head(enc(pos(embed(x))))[..., 0]  # (32, T): one score per position
        loss = pn.nn.functional.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.0 and np.mean(losses[-10:]) < 0.3  # chance level is log(6) = 1.79
