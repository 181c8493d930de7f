// Typeset the math that pymdownx.arithmatex marks, with the KaTeX copy that the build puts in
// assets/katex (from the npm package in package.json): the site needs no network for math.
function lamaTypeset() {
  for (const el of document.querySelectorAll(".arithmatex")) {
    if (el.dataset.typeset) continue;
    renderMathInElement(el, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: true,
    });
    el.dataset.typeset = "1";
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(lamaTypeset);  // Material re-renders pages without reloading them
} else {
  document.addEventListener("DOMContentLoaded", lamaTypeset);
}
