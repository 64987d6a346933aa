"""Draw the book's three diagrams as plain SVG files (no plotting library, no graphviz).

    python tools/diagrams.py                  # writes book/figures/*.svg
    python tools/diagrams.py OUTPUT_FOLDER    # writes the same three files elsewhere (used by the tests)

* ``normalization_sphere.svg``: the map v -> v/||v|| onto the unit sphere, a gradient step orthogonal to v, and
  the norm that grows by Pythagoras (chapters 1 and 3).
* ``rsc_cone.svg``: the double cone of directions Delta with |cos(Delta, gbar)| >= kappa, on which the curvature
  certificate of chapter 3 holds.
* ``dependency_map.svg``: how the book's results depend on each other (notation page); solid border = proved,
  dashed border = measured.

The output is deterministic: every coordinate is rounded to one decimal and written in a fixed order, so running
the script again gives byte-identical files (``tests/test_diagrams.py`` checks that the committed files match).
Every SVG has a width, a height, a viewBox, a <title> and a <desc>; text is real text in a sans-serif font, and
lines are black or grey so the figures read on white and in print.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

FONT = "sans-serif"
INK = "#111111"      # lines and text
GREY = "#555555"     # secondary lines and text (contrast 7.5:1 on white)
SHADE = "#d9d9d9"    # filled regions
ARROW_DEFS = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
              'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#111111"/></marker>'
              '<marker id="arrow-grey" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
              'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555555"/></marker></defs>')


# --------------------------------------------------------------------------------------------------------------
# tiny SVG helpers: each returns one element as a string


def _n(x: float) -> str:
    """A coordinate, rounded to one decimal, without a trailing '.0' (deterministic output)."""
    s = f"{x:.1f}"
    s = s[:-2] if s.endswith(".0") else s
    return "0" if s == "-0" else s


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def line(x1, y1, x2, y2, *, color=INK, width=1.5, dash=None, arrow=False) -> str:
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    if arrow:
        extra += ' marker-end="url(#arrow)"' if color == INK else ' marker-end="url(#arrow-grey)"'
    return (f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{color}" '
            f'stroke-width="{_n(width)}"{extra}/>')


def polyline(points, *, color=INK, width=1.5, dash=None, arrow=False, fill="none") -> str:
    pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    if arrow:
        extra += ' marker-end="url(#arrow)"'
    return f'<polyline points="{pts}" fill="{fill}" stroke="{color}" stroke-width="{_n(width)}"{extra}/>'


def polygon(points, *, fill=SHADE, stroke="none", width=1.0) -> str:
    pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
    return f'<polygon points="{pts}" fill="{fill}" stroke="{stroke}" stroke-width="{_n(width)}"/>'


def circle(cx, cy, r, *, color=INK, width=1.5, fill="none", dash=None) -> str:
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}" fill="{fill}" stroke="{color}" '
            f'stroke-width="{_n(width)}"{extra}/>')


def arc(cx, cy, r, a0, a1, *, color=GREY, width=1.2, steps=24) -> str:
    """A circular arc from angle a0 to a1 (radians, counter-clockwise in math coordinates; y points down)."""
    pts = [(cx + r * math.cos(a0 + (a1 - a0) * k / steps), cy - r * math.sin(a0 + (a1 - a0) * k / steps))
           for k in range(steps + 1)]
    return polyline(pts, color=color, width=width)


def rect(x, y, w, h, *, dash=None, width=1.5, fill="#ffffff", color=INK, rx=6) -> str:
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="{rx}" fill="{fill}" '
            f'stroke="{color}" stroke-width="{_n(width)}"{extra}/>')


def _runs(s: str):
    """Split 'v_{t+1}' / 'eta^{2}' markup into (text, shift) runs; shift is 0, 'sub' or 'sup'."""
    runs, i, plain = [], 0, ""
    while i < len(s):
        if s[i] in "_^" and i + 1 < len(s) and s[i + 1] == "{":
            j = s.index("}", i)
            if plain:
                runs.append((plain, 0))
                plain = ""
            runs.append((s[i + 2:j], "sub" if s[i] == "_" else "sup"))
            i = j + 1
        else:
            plain += s[i]
            i += 1
    if plain:
        runs.append((plain, 0))
    return runs


def text_width(s: str, size: float) -> float:
    """A generous estimate of the rendered width (0.62 em a character, 0.75 size for sub/superscripts)."""
    return sum(len(t) * 0.62 * size * (0.75 if shift else 1.0) for t, shift in _runs(s))


def text(x, y, s, *, size=13, anchor="start", color=INK, weight=None, style=None, family=None) -> str:
    """Real SVG text; 'v_{t}' and 'x^{2}' become sub/superscripts through tspans (dy shifts, reset after)."""
    attrs = f'x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}" fill="{color}"'
    if weight:
        attrs += f' font-weight="{weight}"'
    if style:
        attrs += f' font-style="{style}"'
    if family:
        attrs += f' font-family="{family}"'
    parts, small, level = [], _n(size * 0.75), 0.0   # level: the current baseline shift
    for t, shift in _runs(s):
        target = {0: 0.0, "sub": size * 0.3, "sup": -size * 0.4}[shift]
        size_attr = f' font-size="{small}"' if shift else ""
        if target == level and not shift:
            parts.append(_esc(t))
        else:
            parts.append(f'<tspan dy="{_n(target - level)}"{size_attr}>{_esc(t)}</tspan>')
        level = target
    return f"<text {attrs}>{''.join(parts)}</text>"


def svg(width: int, height: int, title: str, desc: str, body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="title desc" font-family="{FONT}">')
    return "\n".join([head, f'<title id="title">{_esc(title)}</title>', f'<desc id="desc">{_esc(desc)}</desc>',
                      ARROW_DEFS, f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
                      *body, "</svg>"]) + "\n"


# --------------------------------------------------------------------------------------------------------------
# 1. the normalization map and a gradient step


def normalization_sphere() -> str:
    ox, oy, s = 190.0, 300.0, 100.0                  # origin and pixels per unit (the circle has radius 1)
    P = lambda x, y: (ox + s * x, oy - s * y)        # math coordinates -> screen
    v = (1.6, 0.9)
    step = (-0.45, 0.8)                              # orthogonal to v: 1.6*(-0.45) + 0.9*0.8 = 0
    assert abs(v[0] * step[0] + v[1] * step[1]) < 1e-12
    v1 = (v[0] + step[0], v[1] + step[1])
    nv, nv1 = math.hypot(*v), math.hypot(*v1)
    u, u1 = (v[0] / nv, v[1] / nv), (v1[0] / nv1, v1[1] / nv1)
    body = [
        line(*P(-1.6, 0), *P(2.5, 0), color=GREY, width=0.8), line(*P(0, -1.3), *P(0, 1.9), color=GREY, width=0.8),
        circle(*P(0, 0), s, color=INK, width=1.5),
        text(*P(0.72, -0.98), "unit sphere ‖u‖ = 1", size=13, color=GREY),
        line(*P(0, 0), *P(*v), arrow=True, width=2),
        line(*P(0, 0), *P(*v1), arrow=True, width=2, color=GREY, dash="6 4"),
        line(*P(*v), *P(*v1), arrow=True, width=2),
        circle(*P(*u), 4.5, fill=INK), circle(*P(*u1), 4.5, fill="#ffffff", color=INK),
    ]
    # right angle between v_t and the step, at the tip of v_t
    a, b = 0.12, 0.12
    dv, ds = (-v[0] / nv * a, -v[1] / nv * a), (step[0] / math.hypot(*step) * b, step[1] / math.hypot(*step) * b)
    corner = [(v[0] + dv[0], v[1] + dv[1]), (v[0] + dv[0] + ds[0], v[1] + dv[1] + ds[1]), (v[0] + ds[0], v[1] + ds[1])]
    body.append(polyline([P(*c) for c in corner], color=INK, width=1.2))
    body += [
        text(P(*v)[0] + 10, P(*v)[1] + 18, "v_{t}", size=15, weight="bold"),
        text(P(*v1)[0] + 10, P(*v1)[1] + 2, "v_{t+1} = v_{t} − ηg", size=15, weight="bold"),
        text(P(*u)[0] + 12, P(*u)[1] + 20, "u_{t} = v_{t}/‖v_{t}‖", size=13),
        text(P(*u1)[0] - 12, P(*u1)[1] + 4, "u_{t+1}", size=13, anchor="end"),
        text(P(1.5, 1.2)[0], P(1.5, 1.2)[1], "step −ηg ⊥ v_{t}", size=13),
        text(P(-1.5, 0)[0], 34, "The gradient of a scale-invariant f is orthogonal to v, so", size=13, color=GREY),
        text(P(-1.5, 0)[0], 54, "‖v_{t+1}‖^{2} = ‖v_{t}‖^{2} + η^{2}‖g‖^{2}  (the norm never shrinks)", size=14,
             weight="bold"),
        text(P(0, 0)[0] - 8, P(0, 0)[1] + 18, "0", size=13, anchor="end", color=GREY),
    ]
    return svg(560, 440, "The normalization map and a gradient step",
               "A unit circle, a vector v_t outside it and its image u_t = v_t/||v_t|| on the circle. A gradient "
               "step -eta g orthogonal to v_t (right angle marked) leads to v_{t+1}, which is longer than v_t: by "
               "Pythagoras ||v_{t+1}||^2 = ||v_t||^2 + eta^2 ||g||^2. Its image u_{t+1} lies further along the circle.",
               body)


# --------------------------------------------------------------------------------------------------------------
# 2. the cone of the curvature certificate


def rsc_cone(kappa: float = 0.8) -> str:
    ox, oy, R = 280.0, 215.0, 170.0
    th = math.radians(15)                            # direction of gbar
    half = math.acos(kappa)                          # half-angle of the cone
    P = lambda ang, r: (ox + r * math.cos(ang), oy - r * math.sin(ang))

    def wedge(center):
        pts = [(ox, oy)] + [P(center - half + 2 * half * k / 32, R) for k in range(33)]
        return polygon(pts, fill=SHADE, stroke=GREY, width=1.0)

    inside, outside = th - 0.6 * half, th + math.radians(80)
    body = [wedge(th), wedge(th + math.pi),
            line(*P(th + math.pi, R + 10), *P(th, R + 10), color=GREY, width=0.8, dash="3 3"),
            line(ox, oy, *P(th, 150), arrow=True, width=2.5),
            text(*P(th - 0.07, 158), "ḡ_{t}", size=17, weight="bold"),
            text(*P(th + math.pi + 0.07, R + 28), "−ḡ_{t}", size=15, anchor="middle", color=GREY),
            line(ox, oy, *P(inside, 125), arrow=True, width=2),
            text(*P(inside - 0.1, 128), "Δ inside: certificate holds", size=13),
            line(ox, oy, *P(outside, 120), arrow=True, width=2, dash="6 4"),
            text(P(outside, 130)[0], P(outside, 130)[1] - 4, "Δ outside: no guarantee", size=13, anchor="middle"),
            arc(ox, oy, 62, th, th + half),
            text(*P(th + half / 2, 70), "arccos κ", size=12, color=GREY),
            circle(ox, oy, 3, fill=INK),
            text(20, 385, "Shaded: the double cone {Δ : |cos(Δ, ḡ_{t})| ≥ κ}, drawn for κ = 0.8.", size=13),
            text(20, 405, "On it Δ^{T}∇^{2}L(θ_{t})Δ ≥ α̂_{t}‖Δ‖^{2} (chapter 3); outside, nothing is certified.",
                 size=13, color=GREY)]
    return svg(600, 420, "The cone of directions of the curvature certificate",
               "A vector g-bar_t from the origin and the shaded double cone of directions Delta whose cosine with "
               "g-bar_t is at least kappa in absolute value (kappa = 0.8, half-angle arccos kappa), around g-bar_t "
               "and around -g-bar_t. One direction Delta inside the cone, where the certificate holds, and one "
               "outside it, where nothing is certified.", body)


# --------------------------------------------------------------------------------------------------------------
# 3. the map of results

BOX_W, BOX_H, COL, ROW, X0, Y0 = 168.0, 62.0, 192.0, 90.0, 20.0, 20.0

# key: (column, row, title, subtitle, reference, status)
NODES = {
    "normmap": (0, 0, "normalisation map", "derivatives of v/‖v‖", "lem-normalization", "proved"),
    "row": (1, 0, "one-row lemma", "one WN row", "lem-row", "proved"),
    "hessian": (2, 0, "Hessian bound", "certified ‖∇^{2}f‖ at θ", "thm-hessian", "proved"),
    "rsc": (3, 0, "RSC certificate", "at θ_{t}, on a cone", "prop-rsc", "proved"),
    "measured": (4, 0, "loss contraction", "in GD runs, at θ_{t}", "a5-contraction", "measured"),
    "act": (1, 1, "activation constants", "β_{1}, β_{2} of φ", "lem-activations", "proved"),
    "jac": (2, 1, "Jacobian bounds", "between layers", "appendix A.4", "proved"),
    "decomp": (3, 1, "loss-Hessian split", "Gauss–Newton − residual", "ch3-prop-decomposition", "proved"),
    "contraction": (4, 1, "contraction lemma", "from RSC + smoothness", "ch3-prop-contraction", "proved"),
    "layer": (1, 2, "one-layer lemma", "peeling, ℓ_{1} rows", "lem-layer", "proved"),
    "rademacher": (2, 2, "Rademacher bound", "width-free at fixed γ,ν", "appendix A.6", "proved"),
    "gen": (3, 2, "generalization bound", "uniform convergence", "thm-generalization", "proved"),
    "scale": (0, 3, "scale invariance", "f(cv) = f(v)", "prop-scale-invariance", "proved"),
    "rescale": (1, 3, "rescaling all rows", "blocks ÷ c and ÷ c^{2}", "ch2-prop-rescale", "proved"),
    "regimes": (2, 3, "1/ρ and 1/ρ^{2} regimes", "of the curvature", "chapter 2", "measured"),
    "readings": (2, 4, "two readings of m", "Hessian ÷ m, f × m", "ch2-prop-readings", "proved"),
    "rho": (0, 4, "ρ_{min} never decreases", "plain SGD, momentum", "ch3-prop-rho", "proved"),
}

# (from, to, how, arrival offset): 'h' straight or elbow through the gap between columns, 'v' vertical
EDGES = [
    ("normmap", "row", "h", 0), ("row", "hessian", "h", 0), ("act", "hessian", "h", 14), ("jac", "hessian", "v", 0),
    ("hessian", "rsc", "h", 0), ("decomp", "rsc", "v", 0), ("rsc", "measured", "h", 0),
    ("contraction", "measured", "v", 0), ("act", "layer", "v", 0), ("layer", "rademacher", "h", 0),
    ("rademacher", "gen", "h", 0), ("scale", "rescale", "h", 0), ("rescale", "regimes", "h", 0),
    ("rescale", "readings", "h", 0), ("scale", "rho", "v", 0),
]


def _box(key):
    c, r = NODES[key][:2]
    return X0 + c * COL, Y0 + r * ROW


def dependency_map() -> str:
    body = []
    for a, b, how, off in EDGES:
        (xa, ya), (xb, yb) = _box(a), _box(b)
        if how == "v":
            top = yb > ya
            body.append(line(xa + BOX_W / 2, ya + (BOX_H if top else 0), xb + BOX_W / 2, yb + (0 if top else BOX_H),
                             arrow=True))
        else:
            y0, y1 = ya + BOX_H / 2, yb + BOX_H / 2 + off
            if abs(y0 - y1) < 0.5:
                body.append(line(xa + BOX_W, y0, xb, y1, arrow=True))
            else:
                xm = xa + BOX_W + (COL - BOX_W) / 2
                body.append(polyline([(xa + BOX_W, y0), (xm, y0), (xm, y1), (xb, y1)], arrow=True))
    for key, (c, r, title, sub, ref, status) in NODES.items():
        x, y = _box(key)
        for s, size in ((title, 12.5), (sub, 11), (ref, 10)):
            assert text_width(s, size) <= BOX_W - 8, f"label too long for its box: {s!r}"
        body.append(rect(x, y, BOX_W, BOX_H, dash="6 4" if status == "measured" else None,
                         width=2 if status == "measured" else 1.5))
        body.append(text(x + BOX_W / 2, y + 19, title, size=12.5, anchor="middle", weight="bold"))
        body.append(text(x + BOX_W / 2, y + 37, sub, size=11, anchor="middle"))
        body.append(text(x + BOX_W / 2, y + 54, ref, size=10, anchor="middle", color=GREY, family="monospace"))
    # legend, bottom right
    lx, ly = X0 + 3 * COL, Y0 + 4 * ROW
    body += [rect(lx, ly + 4, 34, 20), text(lx + 44, ly + 19, "proved: complete proof in the book", size=12),
             rect(lx, ly + 34, 34, 20, dash="6 4", width=2),
             text(lx + 44, ly + 49, "measured: computed, not proved", size=12),
             line(lx, ly + 72, lx + 34, ly + 72, arrow=True), text(lx + 44, ly + 76, "is used by", size=12)]
    width, height = int(X0 * 2 + 4 * COL + BOX_W), int(Y0 + 4 * ROW + BOX_H + 30)
    names = "; ".join(f"{t} ({ref}, {st})" for _, _, t, _, ref, st in NODES.values()).replace("_{", "").replace(
        "^{", "^").replace("}", "")
    arrows = "; ".join(f"{NODES[a][2]} -> {NODES[b][2]}" for a, b, _, _ in EDGES).replace("_{", "").replace(
        "^{", "^").replace("}", "")
    return svg(width, height, "How the book's results depend on each other",
               f"Boxes are results, solid border proved, dashed border measured: {names}. "
               f"Arrows read 'is used by': {arrows}.", body)


FIGURES = {"normalization_sphere.svg": normalization_sphere, "rsc_cone.svg": rsc_cone,
           "dependency_map.svg": dependency_map}


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, draw in FIGURES.items():
        path = folder / name
        path.write_bytes(draw().encode("utf-8"))
        out.append(path)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "book" / "figures"
    for p in write_all(target):
        print(p)
