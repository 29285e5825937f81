// Loaded (by myst-nb's nb_ipywidgets_js, see book/conf.py) between require.js and the ipywidgets
// embed manager, on pages with widget state.
(function () {
  // 1. The embed manager computes the URL of its own assets (Font Awesome icon fonts) from RequireJS
  //    module URIs, which by default resolve against the page's folder. Point RequireJS at the
  //    vendored copy (_static/npm/, laid out like node_modules, next to this file): all stays local.
  var here = document.currentScript && document.currentScript.src;
  if (here && typeof require !== "undefined") {
    require.config({ baseUrl: here.slice(0, here.lastIndexOf("/") + 1) + "npm/" });
  }
  // (ipywidgets' MathJax 2 calls are bridged to MathJax 4 by mathjax-config.js.)
})();
