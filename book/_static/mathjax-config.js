// Inlined by Sphinx (mathjax_config_path in book/conf.py) after `window.MathJax = <mathjax4_config>`
// and before the vendored MathJax 4 script, on pages with math.
//
// ipywidgets typesets widget labels with the MathJax 2 API, MathJax.Hub.Queue(["Typeset", Hub, el]),
// whenever window.MathJax exists; MathJax 4 has no Hub, so a page with both math and widgets throws.
// Give it a Hub that forwards to MathJax 4, both on the configuration object (widgets may render
// before MathJax starts) and on the MathJax object once it is ready (startup replaces the global).
(function () {
  function hub() {
    return {
      Queue: function (job) {
        var el = job && job[2];
        var mj = window.MathJax;
        if (mj && mj.startup && mj.startup.promise && mj.typesetPromise) {
          mj.startup.promise.then(function () {
            return mj.typesetPromise(el ? [el] : undefined);
          });
        }
      },
    };
  }
  var mj = (window.MathJax = window.MathJax || {});
  mj.Hub = hub();
  mj.startup = mj.startup || {};
  var ready = mj.startup.ready;
  mj.startup.ready = function () {
    if (ready) ready(); else window.MathJax.startup.defaultReady();
    if (!window.MathJax.Hub) window.MathJax.Hub = hub();
  };
})();
