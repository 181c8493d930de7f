// Typeset the math of the notebook pages with the site's own KaTeX (assets/katex): the Markdown
// cells keep Jupyter's $…$ and $$…$$, which javascripts/katex.js does not look for. KaTeX's
// auto-render skips code and pre elements, so a $ in a listing stays as it is.
function lamaNotebookMath() {
  for (const el of document.querySelectorAll(".jupyter-wrapper .jp-RenderedMarkdown")) {
    if (el.dataset.typeset) continue;
    renderMathInElement(el, {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "$", right: "$", display: false },
      ],
      throwOnError: true,
    });
    el.dataset.typeset = "1";
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(lamaNotebookMath);  // Material re-renders pages without reloading them
} else {
  document.addEventListener("DOMContentLoaded", lamaNotebookMath);
}
