# Generated from docs/autograd.md by tools/tangle.py. Do not edit: change the chapter.
"""A reverse-mode autograd over numpy arrays: a Tensor that records how it was made, and the
backward rule of every operation the book's GPT needs.

    x = Tensor(np.random.randn(3, 4), requires_grad=True)
    loss = (x @ x.T).tanh().sum()
    loss.backward()                     # x.grad: d loss / d x, a numpy array (3, 4)
"""
from __future__ import annotations

import numpy as np


class Tensor:
    """A numpy array `data`, its gradient `grad` (filled by backward() on leaves), and the recipe
    that made it: its `parents` and `backward_fn`, which maps the gradient of the loss with
    respect to this tensor to the gradients with respect to each parent."""

    def __init__(self, data, requires_grad: bool = False, parents: tuple = (), backward_fn=None):
        # numpy data keeps its dtype (a reduction gives a numpy scalar); python numbers: float32
        numpy_data = isinstance(data, (np.ndarray, np.generic))
        self.data = np.asarray(data) if numpy_data else np.asarray(data, dtype=np.float32)
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad or any(p.requires_grad for p in parents)
        self.parents = parents if self.requires_grad else ()   # no gradient: forget the recipe
        self.backward_fn = backward_fn if self.requires_grad else None

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)

    def __repr__(self) -> str:
        return f"Tensor(shape={self.shape}, dtype={self.dtype}, requires_grad={self.requires_grad})"

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return self.data.item()

    def backward(self) -> None:
        """Fill .grad of every leaf tensor (one without parents that requires a gradient) that
        this scalar depends on: the chain rule, applied from the output back to the leaves."""
        if self.data.size != 1:
            raise ValueError(f"backward() needs a scalar, got shape {self.shape}: "
                             "reduce it first (e.g. .sum() or .mean())")
        order, seen, stack = [], set(), [(self, False)]
        while stack:                                  # depth-first: a tensor after its parents
            t, parents_done = stack.pop()
            if parents_done:
                order.append(t)
            elif id(t) not in seen:
                seen.add(id(t))
                stack.append((t, True))               # comes back once its parents are done
                stack.extend((p, False) for p in t.parents if id(p) not in seen)
        grads = {id(self): np.ones_like(self.data)}   # d loss / d loss = 1
        for t in reversed(order):                     # every child before its parents
            g = grads.pop(id(t), None)                # complete: all children have added to it
            if g is None:
                continue
            if not t.parents:                         # a leaf: keep (accumulate) its gradient
                t.grad = g if t.grad is None else t.grad + g
                continue
            for p, pg in zip(t.parents, t.backward_fn(g)):
                if p.requires_grad:
                    grads[id(p)] = pg if id(p) not in grads else grads[id(p)] + pg

def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, so that it has `shape`."""
    while grad.ndim > len(shape):                     # axes broadcasting put in front
        grad = grad.sum(axis=0)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def as_tensor(x, like: Tensor) -> Tensor:
    """A constant (python number or array) as a Tensor of `like`'s dtype."""
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=like.dtype))

def add(a: Tensor, b: Tensor) -> Tensor:
    def backward(g):
        return unbroadcast(g, a.shape), unbroadcast(g, b.shape)
    return Tensor(a.data + b.data, parents=(a, b), backward_fn=backward)


def mul(a: Tensor, b: Tensor) -> Tensor:
    def backward(g):
        return (unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                unbroadcast(g * a.data, b.shape) if b.requires_grad else None)
    return Tensor(a.data * b.data, parents=(a, b), backward_fn=backward)


def neg(a: Tensor) -> Tensor:
    return Tensor(-a.data, parents=(a,), backward_fn=lambda g: (-g,))


def div(a: Tensor, b: Tensor) -> Tensor:
    out = a.data / b.data
    def backward(g):
        return (unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None)
    return Tensor(out, parents=(a, b), backward_fn=backward)


def power(a: Tensor, p: float) -> Tensor:
    """a ** p for a constant exponent p."""
    square = p == 2               # numpy's ** is slow for most exponents; a square is a product
    def backward(g):
        return (g * p * (a.data if square else a.data ** (p - 1)),)
    return Tensor(a.data * a.data if square else a.data ** p, parents=(a,), backward_fn=backward)

def exp(a: Tensor) -> Tensor:
    out = np.exp(a.data)
    return Tensor(out, parents=(a,), backward_fn=lambda g: (g * out,))


def log(a: Tensor) -> Tensor:
    return Tensor(np.log(a.data), parents=(a,), backward_fn=lambda g: (g / a.data,))


def tanh(a: Tensor) -> Tensor:
    out = np.tanh(a.data)
    return Tensor(out, parents=(a,), backward_fn=lambda g: (g * (1 - out * out),))

def fold(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """x (..., n, k) @ m (k, p) as one 2-D product: the leading axes of x become rows."""
    return (x.reshape(-1, x.shape[-1]) @ m).reshape(*x.shape[:-1], m.shape[-1])


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """a (..., n, k) @ b (..., k, m) -> (..., n, m); the leading axes broadcast."""
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul needs two tensors of at least 2 axes, got {a.shape} @ {b.shape}")
    plain = b.ndim == 2           # a weight matrix shared by every row of a stack

    def backward(g):                                  # g (..., n, m)
        bT = np.swapaxes(b.data, -1, -2)
        if plain:                 # fold the leading axes into rows: one product each
            return fold(g, bT), a.data.reshape(-1, a.shape[-1]).T @ g.reshape(-1, g.shape[-1])
        return (unbroadcast(g @ bT, a.shape),
                unbroadcast(np.swapaxes(a.data, -1, -2) @ g, b.shape))
    out = fold(a.data, b.data) if plain else a.data @ b.data
    return Tensor(out, parents=(a, b), backward_fn=backward)

def sum_(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    def backward(g):
        if axis is not None and not keepdims:     # put the summed axes back, as size 1
            g = np.expand_dims(g, axis)
        return (np.broadcast_to(g, a.shape),)
    return Tensor(a.data.sum(axis=axis, keepdims=keepdims), parents=(a,), backward_fn=backward)


def mean(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """The sum, times 1/n: its gradient is the sum's, spread evenly over the n elements."""
    total = sum_(a, axis, keepdims)
    return mul(total, as_tensor(total.data.size / a.data.size, a))

def reshape(a: Tensor, *shape) -> Tensor:
    return Tensor(a.data.reshape(*shape), parents=(a,),
                  backward_fn=lambda g: (g.reshape(a.shape),))


def transpose(a: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two axes (a swap is its own inverse, so the gradient is swapped back)."""
    return Tensor(np.swapaxes(a.data, dim0, dim1), parents=(a,),
                  backward_fn=lambda g: (np.swapaxes(g, dim0, dim1),))


def getitem(a: Tensor, index) -> Tensor:
    """a[index]: slices (basic indexing) or a gather with an integer array (advanced indexing)."""
    def backward(g):
        full = np.zeros_like(a.data)
        np.add.at(full, index, g)        # scatter-add: a row picked twice gets both gradients
        return (full,)
    return Tensor(a.data[index], parents=(a,), backward_fn=backward)

def where(mask: np.ndarray, a: Tensor, b: Tensor) -> Tensor:
    """Elementwise: a where `mask` (a bool array) is True, else b."""
    def backward(g):
        return (unbroadcast(np.where(mask, g, 0), a.shape),
                unbroadcast(np.where(mask, 0, g), b.shape))
    return Tensor(np.where(mask, a.data, b.data), parents=(a, b), backward_fn=backward)


def masked_fill(a: Tensor, mask: np.ndarray, value: float) -> Tensor:
    """a, with `value` where `mask` is True; no gradient flows to those places."""
    return where(mask, as_tensor(value, a), a)

def softmax(a: Tensor, axis: int = -1) -> Tensor:
    z = a.data - a.data.max(axis=axis, keepdims=True)  # the same softmax, and exp cannot overflow
    e = np.exp(z)
    out = e / e.sum(axis=axis, keepdims=True)
    def backward(g):             # y * (g - sum(g * y)): the Jacobian's product, never the Jacobian
        return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)
    return Tensor(out, parents=(a,), backward_fn=backward)


def cross_entropy(logits: Tensor, targets: np.ndarray) -> Tensor:
    """Mean of -log softmax(logits)[target]: logits (..., V), targets (...) int -> scalar."""
    flat = logits.data.reshape(-1, logits.shape[-1])                   # (rows, V)
    z = flat - flat.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))     # (rows, V)
    rows, t = np.arange(len(flat)), np.asarray(targets).reshape(-1)
    loss = -log_probs[rows, t].mean()
    def backward(g):             # (softmax - one_hot) / rows, times the incoming scalar
        d = np.exp(log_probs)
        d[rows, t] -= 1
        return ((g / len(flat)) * d.reshape(logits.shape),)
    return Tensor(np.asarray(loss, dtype=logits.dtype), parents=(logits,), backward_fn=backward)

# The operators and methods, so that models read like numpy (and like tinygrad).
Tensor.__add__ = lambda a, b: add(a, as_tensor(b, a))
Tensor.__radd__ = lambda a, b: add(as_tensor(b, a), a)
Tensor.__sub__ = lambda a, b: add(a, neg(as_tensor(b, a)))
Tensor.__rsub__ = lambda a, b: add(as_tensor(b, a), neg(a))
Tensor.__mul__ = lambda a, b: mul(a, as_tensor(b, a))
Tensor.__rmul__ = lambda a, b: mul(as_tensor(b, a), a)
Tensor.__truediv__ = lambda a, b: div(a, as_tensor(b, a))
Tensor.__rtruediv__ = lambda a, b: div(as_tensor(b, a), a)
Tensor.__neg__ = neg
Tensor.__pow__ = power
Tensor.__matmul__ = matmul
Tensor.__getitem__ = getitem
Tensor.T = property(lambda a: transpose(a, -2, -1))
Tensor.sum, Tensor.mean, Tensor.reshape, Tensor.transpose = sum_, mean, reshape, transpose
Tensor.exp, Tensor.log, Tensor.tanh, Tensor.softmax = exp, log, tanh, softmax
Tensor.masked_fill = masked_fill
