"""Vectorised composite evaluator and competition ranking for many weight vectors at once.

The composite of unit *i* under item weights *w* (renormalised to sum 100) is

.. math:: y_i(w) = \\frac{\\sum_{j \\in A_i} w_j\\, x_{ij} / m_j}{\\sum_{j \\in A_i} w_j} \\times 100 + a_i

where :math:`m_j` is the item maximum, :math:`A_i` the items applicable to unit *i* (NaN = not
applicable, the ``prorate`` rule of :func:`pipeline.score.totals`) and :math:`a_i` an optional
additive offset (the verified 述职评议 adjustment). With nominal weights :math:`w_j = m_j`
this is exactly ``pipeline.score.totals(...)["total"]``.

Perturbations act on *factors*: either each item, or groups of items (categories or
dimensions). A group factor scales all items of its group proportionally, so item *j* of
group *k* has weight :math:`g_k\\, m_j / M_k` (:math:`M_k` the group's nominal maximum).
Because the composite is linear in the weights, the units × items matrix is folded once into
a units × factors *loading* matrix and every sample costs one small matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.score import TIE_DECIMALS

__all__ = ["Composite", "competition_order", "sorted_with_ties", "ranks_from_order", "fast_rank", "mean_abs_shift"]

_POLICIES = config.NA_POLICIES  # ("prorate", "zero", "full")


def criteria_matrix(matrix, unit_ids=None, criteria=None, maxima=None, who: str = "matrix"):
    """Units × criteria values as a float array, with unit ids and criterion names.

    A DataFrame supplies its index and columns unless ``unit_ids`` / ``criteria`` are given;
    ``maxima`` divides each column first (points → share of max). Raises a one-line
    :class:`PipelineError` (prefixed with ``who``) unless the array is 2-D.

    Returns
    -------
    (x, unit_ids, criteria) : numpy.ndarray, list, list
    """
    if isinstance(matrix, pd.DataFrame):
        unit_ids = matrix.index.to_numpy() if unit_ids is None else unit_ids
        criteria = list(matrix.columns) if criteria is None else criteria
        matrix = matrix.to_numpy(dtype=float)
    x = np.asarray(matrix, dtype=float)
    if x.ndim != 2:
        raise PipelineError(f"{who}: matrix must be units × criteria")
    if maxima is not None:
        x = x / np.asarray(maxima, dtype=float)
    u, k = x.shape
    ids = list(unit_ids) if unit_ids is not None else list(range(u))
    crit = list(criteria) if criteria is not None else list(range(k))
    return x, ids, crit


def _as_groups(groups, n_items: int) -> tuple[list, np.ndarray]:
    """Group labels → (ordered unique labels, expansion index per item)."""
    g = np.asarray(groups, dtype=object)
    if g.shape != (n_items,):
        raise PipelineError(f"groups: {g.shape[0] if g.ndim else 0} labels for {n_items} items")
    labels: list = []
    for v in g:
        if v not in labels:
            labels.append(v)
    order = [lab for lab in (*config.CATEGORIES, *config.DIMENSIONS) if lab in labels]
    order += [lab for lab in labels if lab not in order]
    idx = np.array([order.index(v) for v in g])
    return order, idx


@dataclass
class Composite:
    """A units × items assessment prepared for fast evaluation under many weights.

    Parameters
    ----------
    matrix : array_like, shape (n_units, n_items)
        Points earned (NaN = not applicable). Points of graded items are ignored when
        ``grades`` is given.
    maxima : array_like, shape (n_items,)
        Nominal item maxima (分值); they are the nominal weights.
    groups : array_like of str, optional
        One label per item (e.g. category). Then the uncertain factors are the group weights;
        otherwise every item is a factor.
    na_policy : {"prorate", "zero", "full"}
        Default NA rule (:mod:`pipeline.score`).
    offset : array_like, shape (n_units,), optional
        Added to every composite (verified adjustments).
    grades : array_like, shape (n_units, n_items), optional
        Grade of graded cells (好/较好/一般 or their codes 0/1/2; anything else = not graded).
        Needed to vary the grade mapping.
    grade_map : mapping, optional
        Default grade → share of the maximum (``config.GRADE_MAP``).
    decimals : int or None
        Composites are rounded to this many decimals before ranking (as the official total).

    Attributes
    ----------
    factors : list
        Names of the factors (group labels, or item positions).
    nominal : numpy.ndarray
        Nominal factor weights, summing to 100.
    expand : numpy.ndarray, shape (n_factors, n_items)
        Item weight = factor weights @ expand (rows sum to 1).
    """

    matrix: np.ndarray
    maxima: np.ndarray
    groups: object = None
    na_policy: str = config.NA_POLICY
    offset: object = None
    grades: object = None
    grade_map: object = None
    decimals: int | None = TIE_DECIMALS

    def __post_init__(self) -> None:
        x = np.asarray(self.matrix, dtype=float)
        m = np.asarray(self.maxima, dtype=float)
        if x.ndim != 2 or m.ndim != 1 or x.shape[1] != m.shape[0]:
            raise PipelineError(f"matrix {x.shape} and maxima {m.shape} do not match (units × items, items)")
        if not np.all(np.isfinite(m)) or np.any(m <= 0):
            raise PipelineError("item maxima must be finite and positive")
        if self.na_policy not in _POLICIES:
            raise PipelineError(f"unknown na_policy {self.na_policy!r} (one of {', '.join(_POLICIES)})")
        self.matrix, self.maxima = x, m
        n_units, n_items = x.shape
        if self.groups is None:
            self.factors = list(range(n_items))
            self.expand = np.eye(n_items)
        else:
            self.factors, idx = _as_groups(self.groups, n_items)
            e = np.zeros((len(self.factors), n_items))
            e[idx, np.arange(n_items)] = m
            self.expand = e / e.sum(axis=1, keepdims=True)
        self.nominal = 100.0 * self._group_max() / m.sum()
        self.offset_ = np.zeros(n_units) if self.offset is None else np.asarray(self.offset, dtype=float)
        if self.offset_.shape != (n_units,):
            raise PipelineError(f"offset must have one value per unit ({n_units})")
        gm = dict(config.GRADE_MAP if self.grade_map is None else self.grade_map)
        self.grade_shares = np.array([gm[g] for g in config.GRADES], dtype=float)
        na = np.isnan(x)
        z = np.where(na, 0.0, x / m)
        gcode = np.full(x.shape, -1)
        if self.grades is not None:
            g = np.asarray(self.grades, dtype=object)
            if g.shape != x.shape:
                raise PipelineError("grades must have the shape of matrix")
            for code, name in enumerate(config.GRADES):
                gcode[(g == name) | (g == code)] = code
            gcode[na] = -1
        graded = gcode >= 0
        zp = np.where(graded, 0.0, z)
        if np.any(zp < 0) or np.any(zp > 1 + 1e-9):
            raise PipelineError("points must lie between 0 and the item maximum")
        self.has_na = bool(na.any())
        self.has_grades = bool(graded.any())
        e = self.expand.T  # items × factors
        self._P = zp @ e  # points part of the loading
        self._G = np.stack([(gcode == c).astype(float) @ e for c in range(3)])  # 3 × units × factors
        self._N = na.astype(float) @ e
        # geometric aggregation: log of each applicable value; zero values flagged separately
        with np.errstate(divide="ignore"):
            logz = np.where(~na & ~graded & (z > 0), np.log(np.where(z > 0, z, 1.0)), 0.0)
        self._L = logz @ e
        self._Z0 = (~na & ~graded & (z <= 0)).astype(float) @ e
        self.n_units, self.n_items = n_units, n_items

    def _group_max(self) -> np.ndarray:
        if self.groups is None:
            return self.maxima.copy()
        return (self.expand > 0).astype(float) @ self.maxima

    @property
    def n_factors(self) -> int:
        return len(self.factors)

    def item_weights(self, factor_weights) -> np.ndarray:
        """Item weights (summing to 100) implied by factor weights, shape (..., n_items)."""
        w = np.asarray(factor_weights, dtype=float)
        w = 100.0 * w / w.sum(axis=-1, keepdims=True)
        return w @ self.expand

    def evaluate(self, weights, grade_shares=None, na_policy=None, geometric=None, dtype=np.float64,
                 rounded: bool = True) -> np.ndarray:
        """Composites of every unit under each factor-weight vector.

        Parameters
        ----------
        weights : array_like, shape (n_samples, n_factors) or (n_factors,)
            Non-negative factor weights; each row is renormalised to sum 100.
        grade_shares : array_like, shape (n_samples, 3) or (3,), optional
            Share of the maximum for 好/较好/一般 per sample (default: the grade map).
        na_policy : str or array_like of int, optional
            One policy for all samples, or per sample an index into ``("prorate", "zero", "full")``.
        geometric : bool or array_like of bool, optional
            Geometric instead of arithmetic aggregation (per sample or for all).
        dtype : numpy dtype
            ``float32`` halves memory traffic; ties are then resolved only to ~1e-5 points.
        rounded : bool
            Round to ``decimals`` (default). ``False`` returns the unrounded composites, for a
            caller that forms the integers ``rint(y · 10^decimals)`` itself: ``np.round`` is
            exactly ``rint(y · 10^d) / 10^d``, so both give the same order and ties.

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_units)
            Composite totals on the 100-point scale (+ offset), rounded to ``decimals``.
        """
        w = np.asarray(weights, dtype=float)
        single = w.ndim == 1
        w = np.atleast_2d(w)
        if w.shape[1] != self.n_factors:
            raise PipelineError(f"weights have {w.shape[1]} columns, the model has {self.n_factors} factors")
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise PipelineError("weights must be finite and non-negative")
        s = w.sum(axis=1, keepdims=True)
        if np.any(s <= 0):
            raise PipelineError("every weight vector needs a positive sum")
        w = (w * (100.0 / s)).astype(dtype, copy=False)
        n = w.shape[0]
        P = self._P.astype(dtype, copy=False)
        num = w @ P.T  # (n, units) earned share × 100
        if self.has_grades:
            if grade_shares is None:
                num += w @ (np.tensordot(self.grade_shares, self._G, axes=1).T).astype(dtype)
            else:
                gs = np.broadcast_to(np.asarray(grade_shares, dtype=float), (n, 3)).astype(dtype)
                for c in range(3):
                    num += gs[:, c : c + 1] * (w @ self._G[c].T.astype(dtype))
        out = self._apply_policy(num, w, na_policy, dtype)
        if geometric is not None and np.any(geometric):
            geo = self._geometric(w, grade_shares, na_policy, dtype)
            gmask = np.broadcast_to(np.asarray(geometric, dtype=bool).reshape(-1, 1) if np.ndim(geometric) else np.bool_(geometric), out.shape)
            out = np.where(gmask, geo, out)
        if self.offset_.any():  # y + 0.0 == y: skip the pass without adjustments
            out += self.offset_.astype(dtype)
        if rounded and self.decimals is not None and dtype == np.float64:
            np.round(out, self.decimals, out=out)
        return out[0] if single else out

    def _policy_codes(self, na_policy, n):
        if na_policy is None:
            na_policy = self.na_policy
        if isinstance(na_policy, str):
            if na_policy not in _POLICIES:
                raise PipelineError(f"unknown na_policy {na_policy!r} (one of {', '.join(_POLICIES)})")
            return _POLICIES.index(na_policy)
        return np.asarray(na_policy, dtype=int).reshape(-1, 1)

    def _apply_policy(self, num, w, na_policy, dtype):
        code = self._policy_codes(na_policy, num.shape[0])
        if not self.has_na:
            return num
        wna = w @ self._N.T.astype(dtype)
        if np.ndim(code) == 0:
            if code == 0:
                den = 100.0 - wna
                return np.where(den > 0, num * (100.0 / np.where(den > 0, den, 1.0)), 0.0).astype(dtype)
            return num if code == 1 else num + wna
        den = 100.0 - wna
        pro = np.where(den > 0, num * (100.0 / np.where(den > 0, den, 1.0)), 0.0)
        return np.choose(np.broadcast_to(code, num.shape), [pro, num, num + wna]).astype(dtype)

    def _geometric(self, w, grade_shares, na_policy, dtype):
        lg = w @ self._L.T.astype(dtype)
        gs = self.grade_shares if grade_shares is None else grade_shares
        gs = np.broadcast_to(np.asarray(gs, dtype=float), (w.shape[0], 3))
        with np.errstate(divide="ignore"):
            lgs = np.log(gs)
        zero = (w @ self._Z0.T) > 0
        for c in range(3):
            gw = w @ self._G[c].T
            fin = np.isfinite(lgs[:, c : c + 1])
            lg = lg + np.where(fin, lgs[:, c : c + 1], 0.0) * gw
            zero |= (~fin) & (gw > 0)
        code = self._policy_codes(na_policy, w.shape[0])
        wna = w @ self._N.T if self.has_na else np.zeros_like(lg)
        den = 100.0 - wna
        with np.errstate(invalid="ignore", divide="ignore"):
            pro = 100.0 * np.exp(lg / np.where(den > 0, den, 1.0))
            full = 100.0 * np.exp(lg / 100.0)
        zero_na = zero | (wna > 0)
        res = np.choose(np.broadcast_to(code, lg.shape), [np.where(zero | (den <= 0), 0.0, pro), np.where(zero_na, 0.0, full), np.where(zero, 0.0, full)])
        return res.astype(dtype)


def _packed_keys(scores: np.ndarray, decimals: int) -> tuple[np.ndarray, int] | None:
    """int64 keys ``round(score·10^decimals) · 2^bits + unit`` (None if they would not fit).

    For composites already rounded to ``decimals``, equal keys' score parts ⇔ equal scores,
    and one SIMD integer ``np.sort`` of the keys yields both the order and the sorted values,
    about 3× cheaper than ``argsort`` plus a value sort of float rows.
    """
    n_units = scores.shape[1]
    bits = max(1, int(n_units - 1).bit_length())
    scaled = scores * (10.0**decimals)
    if not np.isfinite(scaled).all() or np.abs(scaled).max(initial=0.0) >= 2.0 ** (62 - bits):
        return None
    keys = np.rint(scaled).astype(np.int64)
    keys <<= bits
    keys |= np.arange(n_units, dtype=np.int64)
    return keys, bits


def sorted_with_ties(scores: np.ndarray, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ascending order of each row, plus the competition ranks of the rows that have ties.

    Returns
    -------
    asc : numpy.ndarray of int, shape (n_samples, n_units), C-contiguous
        ``asc[s, k]`` is the unit at ascending position *k*; in a row without ties its
        competition rank is ``n_units − k``.
    tie_rows : numpy.ndarray of int
        Rows holding at least one tie (usually few: ties need equal rounded composites).
    tie_rank : numpy.ndarray of int, shape (len(tie_rows), n_units)
        For those rows, the competition rank at each *descending* position, i.e. of unit
        ``asc[row, ::-1][k]``.

    Notes
    -----
    With ``decimals`` (the scores are already rounded to that many decimals, as
    :meth:`Composite.evaluate` returns them), order and values come from one integer sort of
    packed keys (:func:`_packed_keys`). Otherwise ties are found on a separate SIMD
    ``np.sort`` of the values (cheaper than gathering them through the argsort). The order
    inside a tie is irrelevant: tied units all take the rank of the first descending position
    of their run.
    """
    n_units = scores.shape[1]
    packed = _packed_keys(scores, decimals) if decimals is not None else None
    if packed is not None:
        keys, bits = packed
        keys.sort(axis=1)
        asc = keys & ((1 << bits) - 1)
        srt = keys >> bits
    else:
        asc = np.argsort(scores, axis=1)
        srt = np.sort(scores, axis=1)
    tie_rows = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
    if tie_rows.size == 0:
        return asc, tie_rows, np.empty((0, n_units), dtype=np.int64)
    pos = np.arange(1, n_units + 1, dtype=np.int64)
    desc = srt[tie_rows, ::-1]
    new_run = np.ones(desc.shape, dtype=bool)
    new_run[:, 1:] = desc[:, 1:] != desc[:, :-1]
    tie_rank = np.maximum.accumulate(np.where(new_run, pos, 0), axis=1)
    return asc, tie_rows, tie_rank


def competition_order(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row descending; return (order, rank at each sorted position).

    Parameters
    ----------
    scores : numpy.ndarray, shape (n_samples, n_units)

    Returns
    -------
    order : numpy.ndarray of int
        ``order[s, k]`` is the unit at position *k* (0 = best) in sample *s*.
    rank : numpy.ndarray of int
        Competition rank (1 = best, ties share the better rank) of ``order[s, k]``.
    """
    asc, tie_rows, tie_rank = sorted_with_ties(scores)
    order = asc[:, ::-1]
    rank = np.tile(np.arange(1, scores.shape[1] + 1, dtype=np.int64), (scores.shape[0], 1))
    rank[tie_rows] = tie_rank
    return order, rank


def ranks_from_order(order: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Scatter per-position ranks back to units: (n_samples, n_units) rank of each unit."""
    out = np.empty(order.shape, dtype=np.int64)
    np.put_along_axis(out, order, np.ascontiguousarray(rank), axis=1)
    return out


def fast_rank(scores: np.ndarray) -> np.ndarray:
    """Competition ranks along the last axis of a NaN-free 2-D array (same as ``score.rank``)."""
    s = np.atleast_2d(np.asarray(scores))
    if np.isnan(s).any():
        raise PipelineError("composites contain NaN; check weights and NA pattern")
    return ranks_from_order(*competition_order(s))


def mean_abs_shift(composites: np.ndarray, r0: np.ndarray, decimals: int | None) -> np.ndarray:
    """Mean |rank − r0| over the units for each row of ``composites`` (samples × units), with
    competition ranks of the composites (ties share the better rank) — the system target of the
    Sobol and Shapley analyses, without building the full rank matrix."""
    u = composites.shape[1]
    asc, tie_rows, tie_rank = sorted_with_ties(composites, decimals=decimals)
    shift = np.abs((u - np.arange(u)) - r0[asc]).mean(axis=1)
    if tie_rows.size:
        shift[tie_rows] = np.abs(tie_rank - r0[asc[tie_rows, ::-1]]).mean(axis=1)
    return shift

