// Generated from docs/attention-view.md by tools/tangle.py. Do not edit: change the chapter.
// lama's interactive attention view. It ships in the package (lama.viewer inlines it in
// standalone pages) and the site publishes it as javascripts/attention-view.js.
//
// Fills every <div class="lama-attention"> with a view of the attention weights that
// `python -m lama.viz ... --out file.json` wrote: from the file named by the div's data-src, or
// from a <script type="application/json"> inside the div (the standalone pages that
// --out file.html writes). Plain DOM and SVG: no library, and no request but the data file.
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const FORMAT = "lama-attention-1";
  const ROW = 20;           // pixels from one token to the next
  const GAP = 160;          // pixels between the queries (left) and the keys (right)
  const CHAR = 8.5;         // width of one character of a label, in pixels (14px monospace)
  const MIN_WEIGHT = 0.01;  // lighter lines are not drawn
  const STYLE = `
.lama-attention { margin: 1em 0; }
.lama-attention-controls { display: flex; flex-wrap: wrap; gap: .4em 1.2em; align-items: center;
  font-size: .75rem; }
.lama-attention-controls label { display: inline-flex; gap: .4em; align-items: center; }
.lama-attention select { font: inherit; color: inherit; background: transparent;
  border: 1px solid currentColor; border-radius: 3px; }
.lama-attention select option { color: #000; background: #fff; }
.lama-attention-heads { display: inline-flex; flex-wrap: wrap; gap: .3em; }
.lama-attention button { font: inherit; color: inherit; background: transparent;
  border: 1px solid currentColor; border-radius: 3px; padding: .05em .45em; cursor: pointer;
  opacity: .55; }
.lama-attention button[aria-pressed="true"] { opacity: 1; font-weight: bold; }
.lama-attention-swatch { display: inline-block; width: .75em; height: .75em; margin-right: .3em;
  border-radius: 2px; vertical-align: -.05em; }
.lama-attention svg { display: block; max-width: 100%; height: auto; margin: .6em 0;
  font-family: monospace; font-size: 14px; }
.lama-attention svg text { fill: currentColor; dominant-baseline: central; cursor: default; }
.lama-attention-token { outline: none; }
.lama-attention-token:focus rect { stroke: currentColor; stroke-width: 1; }
.lama-attention-output, .lama-attention-status { font-size: .75rem; min-height: 1.4em;
  margin: .3em 0; }
`;

  function make(tag, attrs, parent, text) {
    const node = tag.startsWith("svg:")
      ? document.createElementNS(SVG_NS, tag.slice(4))
      : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function headColor(head, nHead) {
    return `hsl(${Math.round((360 * head) / nHead)}, 70%, 45%)`;
  }

  // weights[l][h][i] is query i's row in thousandths; a causal row stops at the diagonal.
  function weightOf(example, layer, head, i, j) {
    const row = example.weights[layer][head][i];
    return j < row.length ? row[j] / 1000 : 0;
  }

  function quoted(token) {
    return `\u201c${token}\u201d`;
  }

  class View {
    constructor(root, data) {
      this.root = root;
      this.data = data;
      this.state = { example: 0, layer: 0, head: "all", focus: null };
      this.build();
      this.drawTokens();
      this.update();
    }

    // The controls, the picture and the two lines of text; built once.
    build() {
      const root = this.root;
      const data = this.data;
      root.textContent = "";
      const controls = make("div", { class: "lama-attention-controls" }, root);
      if (data.examples.length > 1) {
        const label = make("label", {}, controls, "text");
        const select = make("select", { "data-role": "example" }, label);
        data.examples.forEach((example, k) => {
          const text = example.text;
          const short = text.length > 48 ? text.slice(0, 47) + "\u2026" : text;
          make("option", { value: String(k) }, select, short.replace(/\n/g, " \u21b5 "));
        });
        select.addEventListener("change", () => {
          this.state.example = Number(select.value);
          this.state.focus = null;
          this.drawTokens();
          this.update();
        });
      }
      const layerLabel = make("label", {}, controls, "layer");
      const layers = make("select", { "data-role": "layer" }, layerLabel);
      for (let l = 0; l < data.n_layer; l++) {
        make("option", { value: String(l) }, layers, String(l));
      }
      layers.addEventListener("change", () => {
        this.state.layer = Number(layers.value);
        this.update();
      });
      const heads = make("span", { class: "lama-attention-heads", "data-role": "heads" }, controls);
      this.headButtons = [];
      const choices = ["all"].concat([...Array(data.n_head).keys()]);
      for (const choice of choices) {
        const button = make("button", { type: "button", "data-head": String(choice) }, heads);
        if (choice === "all") {
          button.textContent = "all heads";
        } else {
          const color = headColor(choice, data.n_head);
          make("span", { class: "lama-attention-swatch", style: `background: ${color}` }, button);
          button.append(`head ${choice}`);
        }
        button.addEventListener("click", () => {
          this.state.head = choice;
          this.update();
        });
        this.headButtons.push(button);
      }
      this.output = make("p", { class: "lama-attention-output", "data-role": "output" }, root);
      this.svg = make("svg:svg", { role: "img", "data-role": "map" }, root);
      this.status = make("p", {
        class: "lama-attention-status", "data-role": "status", "aria-live": "polite",
      }, root);
    }

    // The two columns of tokens of the current text; redrawn when the text changes.
    drawTokens() {
      const example = this.data.examples[this.state.example];
      const T = example.tokens.length;
      const longest = Math.max(...example.tokens.map((t) => t.length));
      this.column = Math.max(40, Math.ceil(CHAR * longest) + 14);
      const width = 2 * this.column + GAP;
      const height = ROW * T + 8;
      const svg = this.svg;
      svg.textContent = "";
      svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      svg.setAttribute("width", String(width));
      svg.setAttribute("height", String(height));
      svg.setAttribute("aria-label", `attention between the ${T} tokens of the text`);
      this.edges = make("svg:g", { "data-role": "edges" }, svg);
      this.cells = { q: [], k: [] };
      for (const side of ["q", "k"]) {
        for (let i = 0; i < T; i++) {
          const x = side === "q" ? 0 : this.column + GAP;
          const y = 4 + ROW * i;
          const group = make("svg:g", {
            class: "lama-attention-token", tabindex: "0",
            "data-side": side, "data-index": String(i),
          }, svg);
          const rect = make("svg:rect", {
            x: String(x), y: String(y), width: String(this.column), height: String(ROW - 2),
            rx: "3", "fill-opacity": "0",
          }, group);
          make("svg:text", {
            x: String(side === "q" ? this.column - 8 : x + 8), y: String(y + ROW / 2 - 1),
            "text-anchor": side === "q" ? "end" : "start",
          }, group, example.tokens[i]);
          const enter = () => this.setFocus({ side, index: i });
          const leave = () => this.setFocus(null);
          group.addEventListener("mouseenter", enter);
          group.addEventListener("focus", enter);
          group.addEventListener("mouseleave", leave);
          group.addEventListener("blur", leave);
          this.cells[side].push(rect);
        }
      }
      const model = this.data.model;
      this.output.textContent = example.output ? `${model}: ${example.output}` : model;
    }

    setFocus(focus) {
      const old = this.state.focus;
      const same = old && focus && old.side === focus.side && old.index === focus.index;
      if (old === focus || same) return;
      this.state.focus = focus;
      this.update();
    }

    heads() {
      return this.state.head === "all" ? [...Array(this.data.n_head).keys()] : [this.state.head];
    }

    // Lines, highlights and the status line for the current layer, head(s) and focus.
    update() {
      const { layer, focus } = this.state;
      const example = this.data.examples[this.state.example];
      const T = example.tokens.length;
      const heads = this.heads();
      for (const button of this.headButtons) {
        const pressed = button.dataset.head === String(this.state.head);
        button.setAttribute("aria-pressed", String(pressed));
      }
      this.edges.textContent = "";
      const x1 = this.column + 2;
      const x2 = this.column + GAP - 2;
      for (const h of heads) {
        const color = headColor(h, this.data.n_head);
        for (let i = 0; i < T; i++) {
          if (focus && focus.side === "q" && focus.index !== i) continue;
          for (let j = 0; j < T; j++) {
            if (focus && focus.side === "k" && focus.index !== j) continue;
            const w = weightOf(example, layer, h, i, j);
            if (w < MIN_WEIGHT) continue;
            make("svg:line", {
              class: "lama-attention-edge", "data-head": String(h),
              x1: String(x1), y1: String(3 + ROW * i + ROW / 2),
              x2: String(x2), y2: String(3 + ROW * j + ROW / 2),
              stroke: color, "stroke-width": "2", "stroke-opacity": w.toFixed(3),
            }, this.edges);
          }
        }
      }
      // Shade the tokens on the other side by the weight (the largest over the heads shown).
      const shade = (side, k, value, color) => {
        this.cells[side][k].setAttribute("fill", color);
        this.cells[side][k].setAttribute("fill-opacity", value.toFixed(3));
      };
      const single = heads.length === 1 ? headColor(heads[0], this.data.n_head) : "#5c6bc0";
      for (let k = 0; k < T; k++) {
        shade("q", k, 0, single);
        shade("k", k, 0, single);
      }
      if (!focus) {
        this.status.textContent = "Hover a token: on the left to see where it attends, "
          + "on the right to see what attends to it.";
        return;
      }
      const other = focus.side === "q" ? "k" : "q";
      const pairs = [];
      for (let k = 0; k < T; k++) {
        const [i, j] = focus.side === "q" ? [focus.index, k] : [k, focus.index];
        const ws = heads.map((h) => weightOf(example, layer, h, i, j));
        shade(other, k, Math.max(...ws), single);
        heads.forEach((h, n) => pairs.push({ h, k, w: ws[n] }));
      }
      shade(focus.side, focus.index, 0.25, single);
      const token = quoted(example.tokens[focus.index]);
      const verb = focus.side === "q" ? "attends most to" : "is attended to most by";
      const named = (p) => `${quoted(example.tokens[p.k])} (${p.k}) ${p.w.toFixed(2)}`;
      let parts;
      if (heads.length === 1) {
        parts = pairs.sort((a, b) => b.w - a.w).slice(0, 3).map(named);
      } else {
        parts = heads.map((h) => {
          const best = pairs.filter((p) => p.h === h).sort((a, b) => b.w - a.w)[0];
          return `head ${h}: ${named(best)}`;
        });
      }
      this.status.textContent =
        `Layer ${layer}: ${token} (position ${focus.index}) ${verb} ${parts.join(", ")}`;
    }
  }

  function init(root) {
    if (root.dataset.lamaReady) return;
    root.dataset.lamaReady = "1";
    const inline = root.querySelector('script[type="application/json"]');
    const source = root.dataset.src;
    const load = inline
      ? Promise.resolve().then(() => JSON.parse(inline.textContent))
      : fetch(source).then((response) => {
          if (!response.ok) throw new Error(`${source}: HTTP ${response.status}`);
          return response.json();
        });
    load
      .then((data) => {
        if (data.format !== FORMAT) {
          throw new Error(`expected data of format ${FORMAT}, got ${data.format}`);
        }
        new View(root, data);
      })
      .catch((error) => {
        root.textContent = `The attention view could not load its data: ${error.message}`;
        console.error("lama attention view:", error);
      });
  }

  function initAll() {
    if (!document.getElementById("lama-attention-style")) {
      make("style", { id: "lama-attention-style" }, document.head, STYLE);
    }
    document.querySelectorAll(".lama-attention").forEach(init);
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(initAll);  // Material: also after an instant page change
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initAll);
  } else {
    initAll();
  }
})();
